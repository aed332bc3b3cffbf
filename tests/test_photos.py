"""Case photos: content-based validation, processing, atomic content-addressed storage, serving by scope."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms
from werkzeug.datastructures import FileStorage

from gridops.auth.tokens import issue_token
from gridops.cases import photos as photos_module
from gridops.cases.models import Case, CaseEvent, CasePhoto
from gridops.cases.photos import (
    MAX_EDGE,
    MAX_PHOTO_BYTES,
    THUMB_EDGE,
    attach_photos,
    discard_photos,
    store_photo,
    store_photos,
)
from gridops.catalogue.models import BigClass, SmallClass
from gridops.errors import ValidationFailed
from gridops.extensions import db
from tests.factories import make_department, make_small_city, make_user

RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)


@pytest.fixture
def media_root(app, tmp_path, monkeypatch):
    """A fresh, empty media folder for this test."""
    root = tmp_path / "media"
    monkeypatch.setitem(app.config, "GRIDOPS_MEDIA_DIR", str(root))
    return root


@pytest.fixture
def media(app, media_root):
    """The fresh media folder, inside an English request (photo errors are translated)."""
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        yield media_root


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def picture(fmt="JPEG", size=(64, 48), mode="RGB", colour=RED, **options) -> bytes:
    return encode(Image.new(mode, size, colour), fmt, **options)


def halves(size=(80, 40)) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def opened(media, relative: str) -> Image.Image:
    image = Image.open(media / relative)
    image.load()
    return image


def close_to(actual, expected, tolerance=40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def files_under(root) -> list:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def reason(exc: pytest.ExceptionInfo) -> str:
    return exc.value.fields["photos"]


# --- accepted formats, processing ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_each_accepted_format_is_stored_as_jpeg_with_a_thumbnail(media, fmt):
    stored = store_photo(picture(fmt, size=(64, 48)))
    assert (stored.content_type, stored.width, stored.height) == ("image/jpeg", 64, 48)
    full = (media / stored.path).read_bytes()
    assert stored.sha256 == hashlib.sha256(full).hexdigest()
    assert stored.size_bytes == len(full)
    assert stored.path.endswith(f"/{stored.sha256}.jpg")
    assert stored.thumb_path.endswith(f"/{stored.sha256}.thumb.jpg")
    assert opened(media, stored.path).format == "JPEG"
    assert close_to(opened(media, stored.path).getpixel((10, 10)), RED)
    assert opened(media, stored.thumb_path).size == (64, 48)


def test_files_are_sharded_by_upload_date(media):
    stored = store_photo(picture())
    year, month, day, name = stored.path.split("/")
    assert (len(year), len(month), len(day)) == (4, 2, 2)
    assert stored.thumb_path.rsplit("/", 1)[0] == f"{year}/{month}/{day}"


def test_exif_rotated_jpeg_comes_out_upright(media):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: display rotated 90° clockwise
    data = encode(halves((80, 40)), "JPEG", exif=exif)
    stored = store_photo(data)
    assert (stored.width, stored.height) == (40, 80)
    image = opened(media, stored.path)
    assert image.size == (40, 80)
    assert close_to(image.getpixel((20, 10)), RED)  # the left half is now on top
    assert close_to(image.getpixel((20, 70)), BLUE)
    assert not image.getexif()
    assert opened(media, stored.thumb_path).size == (40, 80)


def test_big_image_is_resized_to_2048_with_a_320_thumbnail(media):
    stored = store_photo(encode(halves((4100, 2050)), "JPEG", quality=70))
    assert (stored.width, stored.height) == (MAX_EDGE, 1024)
    assert opened(media, stored.path).size == (2048, 1024)
    assert opened(media, stored.thumb_path).size == (THUMB_EDGE, 160)


def test_big_png_is_resized_too(media):
    stored = store_photo(picture("PNG", size=(1000, 3000)))
    assert (stored.width, stored.height) == (683, 2048)
    assert opened(media, stored.thumb_path).size == (107, 320)


def test_small_image_is_not_enlarged(media):
    stored = store_photo(picture(size=(3, 2)))
    assert (stored.width, stored.height) == (3, 2)


def test_metadata_is_stripped_but_the_colour_profile_kept(media):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (33.0, 0.0, 12.5)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-place</x:xmpmeta>'
    data = encode(halves(), "JPEG", exif=exif, xmp=xmp, comment=b"secret-comment", icc_profile=icc)
    with Image.open(io.BytesIO(data)) as source:  # the upload really carries all of it
        assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert {"xmp", "comment", "icc_profile"} <= set(source.info)
    stored = store_photo(data)
    for relative in (stored.path, stored.thumb_path):
        raw = (media / relative).read_bytes()
        assert b"secret" not in raw and b"PhoneMaker" not in raw and b"Exif" not in raw
        image = opened(media, relative)
        assert not image.getexif()
        assert image.info.get("icc_profile") == icc


def test_png_transparency_is_flattened_onto_white(media):
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    image.paste((*BLUE, 255), (10, 0, 20, 10))
    stored = store_photo(encode(image, "PNG"))
    result = opened(media, stored.path)
    assert result.mode == "RGB"
    assert close_to(result.getpixel((2, 5)), WHITE)
    assert close_to(result.getpixel((17, 5)), BLUE)


def test_palette_png_with_a_transparent_colour_is_flattened(media):
    image = Image.new("P", (10, 10), 1)
    image.putpalette([*RED, *BLUE])
    image.paste(0, (0, 0, 5, 10))
    stored = store_photo(encode(image, "PNG", transparency=0))
    result = opened(media, stored.path)
    assert close_to(result.getpixel((2, 5)), WHITE)
    assert close_to(result.getpixel((8, 5)), BLUE)


def test_grey_stays_grey_and_sixteen_bit_grey_is_scaled_not_clipped(media):
    grey = store_photo(picture("PNG", mode="L", colour=90))
    assert opened(media, grey.path).mode == "L"
    deep = store_photo(picture("PNG", mode="I;16", colour=32768))
    result = opened(media, deep.path)
    assert result.mode == "L"
    assert abs(result.getpixel((5, 5)) - 128) <= 3


def test_cmyk_jpeg_is_stored_as_rgb_without_its_cmyk_profile(media):
    stored = store_photo(picture("JPEG", mode="CMYK", colour=(0, 255, 255, 0)))
    result = opened(media, stored.path)
    assert result.mode == "RGB"
    assert close_to(result.getpixel((5, 5)), (255, 0, 0), tolerance=60)
    assert "icc_profile" not in result.info


def test_multi_picture_jpeg_from_a_phone_camera_is_accepted(media):
    data = encode(halves(), "MPO", save_all=True, append_images=[halves()])
    with Image.open(io.BytesIO(data)) as source:
        assert source.format == "MPO"
    stored = store_photo(data)
    assert (stored.width, stored.height) == (80, 40)


def test_png_named_jpg_is_recognised_by_its_content(media):
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # only a PNG can carry this transparency
    upload = FileStorage(io.BytesIO(encode(image, "PNG")), filename="photo.jpg", content_type="image/jpeg")
    stored = store_photo(upload)
    assert close_to(opened(media, stored.path).getpixel((4, 4)), WHITE)


def test_same_bytes_twice_share_one_file(media):
    first = store_photo(picture())
    second = store_photo(picture())
    assert first == second
    assert len(first.written) == 2 and second.written == ()
    discard_photos([second])
    assert (media / first.path).exists() and (media / first.thumb_path).exists()


def test_stored_files_are_not_world_readable_and_no_temporary_file_remains(media):
    stored = store_photo(picture())
    assert [path.name for path in files_under(media)] == sorted(
        [f"{stored.sha256}.jpg", f"{stored.sha256}.thumb.jpg"]
    )
    assert (media / stored.path).stat().st_mode & 0o777 == 0o640


def test_a_relative_media_folder_lies_in_the_instance_folder(app, media, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    monkeypatch.setitem(app.config, "GRIDOPS_MEDIA_DIR", "uploads")
    stored = store_photo(picture())
    assert (tmp_path / "instance" / "uploads" / stored.path).is_file()


def test_storage_without_hard_links_still_writes_atomically(media, monkeypatch):
    def no_links(source, target):
        raise OSError(errno.EPERM, "hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    stored = store_photo(picture())
    assert len(stored.written) == 2
    assert opened(media, stored.path).size == (64, 48)
    assert store_photo(picture()).written == ()
    assert len(files_under(media)) == 2


# --- refused uploads -----------------------------------------------------------------------


def test_exactly_10_mb_is_accepted_one_byte_more_is_not(media):
    data = picture()
    padded = data + b"\0" * (MAX_PHOTO_BYTES - len(data))  # JPEG readers ignore bytes after the end
    assert store_photo(padded).width == 64
    with pytest.raises(ValidationFailed) as exc:
        store_photo(padded + b"\0")
    assert reason(exc) == "larger than 10 MB"


class EndlessStream(io.RawIOBase):
    """A never-ending upload that counts how much was read from it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = b"\xff" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def test_oversized_upload_is_not_read_past_the_limit(media):
    stream = EndlessStream()
    with pytest.raises(ValidationFailed) as exc:
        store_photo(FileStorage(stream, filename="huge.jpg"))
    assert reason(exc) == "huge.jpg: larger than 10 MB"
    assert stream.read_bytes == MAX_PHOTO_BYTES + 1
    assert files_under(media) == []


def test_text_file_named_jpg_is_refused(media):
    upload = FileStorage(io.BytesIO(b"just some notes, not a photo\n" * 20), filename="notes.jpg")
    with pytest.raises(ValidationFailed) as exc:
        store_photo(upload)
    assert reason(exc) == "notes.jpg: not a JPEG, PNG or WebP image"
    assert exc.value.to_dict()["error"] == "validation_failed"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_refused(media, fmt):
    with pytest.raises(ValidationFailed) as exc:
        store_photo(picture(fmt, mode="RGB"))
    assert reason(exc) == "not a JPEG, PNG or WebP image"


def test_empty_file_is_refused(media):
    with pytest.raises(ValidationFailed) as exc:
        store_photo(b"")
    assert reason(exc) == "the file is empty"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_is_refused_as_corrupt(media, fmt):
    data = encode(Image.effect_noise((200, 200), 60).convert("RGB"), fmt)
    with pytest.raises(ValidationFailed) as exc:
        store_photo(data[: len(data) // 2], filename="cut.img")
    assert reason(exc) == "cut.img: image is corrupt"
    assert files_under(media) == []


def test_png_with_a_damaged_chunk_is_refused_as_corrupt(media):
    data = bytearray(picture("PNG"))
    data[-20] ^= 0xFF  # inside the image data: its checksum no longer matches
    with pytest.raises(ValidationFailed) as exc:
        store_photo(bytes(data))
    assert reason(exc) == "image is corrupt"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "MPO"])
def test_damaged_uploads_are_stored_or_refused_never_crash(media, fmt):
    """Seeded byte flips, cuts and insertions in a valid image: each is stored or refused as invalid."""
    image = Image.blend(halves((60, 40)), Image.effect_noise((60, 40), 30).convert("RGB"), 0.4)
    data = encode(image, fmt, **({"save_all": True, "append_images": [image]} if fmt == "MPO" else {}))
    rng = random.Random(fmt)
    for _ in range(60):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            at, roll = rng.randrange(len(damaged)), rng.random()
            if roll < 0.6:
                damaged[at] = rng.randrange(256)
            elif roll < 0.8:
                del damaged[at : at + rng.randint(1, 40)]
            else:
                damaged[at:at] = rng.randbytes(rng.randint(1, 20))
        try:
            store_photo(bytes(damaged))
        except ValidationFailed as exc:
            assert set(exc.fields) == {"photos"}


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height``: a decompression bomb's shape."""
    data = picture("PNG", size=(1, 1))
    header = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + header + struct.pack(">I", zlib.crc32(header)) + data[33:]


@pytest.mark.parametrize("size", [(9000, 8000), (12000, 12000), (40000, 40000)])
def test_decompression_bombs_are_refused_before_decoding(media, size):
    with pytest.raises(ValidationFailed) as exc:
        store_photo(_png_claiming(*size))
    assert reason(exc) == "image has too many pixels (at most 64 megapixels)"


def test_errors_are_translated(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "GRIDOPS_MEDIA_DIR", str(tmp_path))
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        with pytest.raises(ValidationFailed) as exc:
            store_photo(b"GIF89a not really")
    assert reason(exc) != "not a JPEG, PNG or WebP image"
    assert "JPEG" in reason(exc)


# --- one step's photos ---------------------------------------------------------------------


def test_nine_photos_per_step_are_stored(media):
    stored = store_photos([picture(colour=(n * 25, 0, 0)) for n in range(9)])
    assert len({photo.sha256 for photo in stored}) == 9
    assert len(files_under(media)) == 18


def test_ten_photos_are_refused_before_anything_is_written(media):
    with pytest.raises(ValidationFailed) as exc:
        store_photos([picture(colour=(n * 25, 0, 0)) for n in range(10)])
    assert reason(exc) == "at most 9 photos per step"
    assert files_under(media) == []


def test_one_bad_photo_leaves_nothing_behind_but_keeps_earlier_uploads(media):
    earlier = store_photo(picture(colour=(1, 2, 3)))
    uploads = [picture(colour=(1, 2, 3)), picture(colour=(4, 5, 6)), b"GIF89a"]
    with pytest.raises(ValidationFailed) as exc:
        store_photos(uploads)
    assert reason(exc) == "photo 3: not a JPEG, PNG or WebP image"
    assert files_under(media) == sorted([media / earlier.path, media / earlier.thumb_path])


def test_write_failure_removes_what_this_call_wrote(media, monkeypatch):
    real_write = photos_module._write_once
    calls = []

    def failing_on_the_third_file(target, data):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(target, data)

    monkeypatch.setattr(photos_module, "_write_once", failing_on_the_third_file)
    with pytest.raises(OSError):
        store_photos([picture(colour=(7, 7, 7)), picture(colour=(8, 8, 8))])
    assert files_under(media) == []


def test_empty_file_fields_from_a_form_are_ignored(media):
    empty = FileStorage(io.BytesIO(b""), filename="")
    named = FileStorage(io.BytesIO(picture()), filename="near.jpg")
    assert store_photos([empty]) == []
    assert len(store_photos([empty, named])) == 1


# --- attaching and serving -----------------------------------------------------------------


def make_case(area, number="20261121000001", **kwargs) -> Case:
    big = db.session.get(BigClass, 1) or BigClass(case_type="event", code="01", name="市容环境")
    small = db.session.get(SmallClass, 1) or SmallClass(
        big_class=big, case_type="event", code="0101", name="暴露垃圾"
    )
    db.session.add_all([big, small])
    db.session.flush()
    case = Case(
        number=number,
        source="patrol",
        case_type="event",
        small_class_id=small.id,
        state="reported",
        area_id=area.id,
        unit_grid_id=area.id,
        area_path=area.path,
        **kwargs,
    )
    db.session.add(case)
    db.session.flush()
    return case


def test_attach_photos_records_them_on_the_case_and_its_step(media):
    city = make_small_city()
    worker = make_user(area=city["grid1"])
    case = make_case(city["grid1"])
    event = CaseEvent(case_id=case.id, action="file", actor_id=worker.id, to_state="reported")
    db.session.add(event)
    stored = store_photos([picture(colour=(1, 1, 1)), picture(colour=(2, 2, 2))])
    attached = attach_photos(case, event, stored, worker, kind="near")
    db.session.commit()
    rows = db.session.scalars(db.select(CasePhoto).order_by(CasePhoto.id)).all()
    assert rows == attached and len(rows) == 2
    assert [photo.event_id for photo in rows] == [event.id, event.id]
    assert {(p.case_id, p.kind, p.uploaded_by_id) for p in rows} == {(case.id, "near", worker.id)}
    assert [p.sha256 for p in rows] == [s.sha256 for s in stored]
    assert (rows[0].width, rows[0].content_type, rows[0].path) == (64, "image/jpeg", stored[0].path)


def test_attach_photos_refuses_an_unknown_kind_and_a_tenth_photo_on_a_step(media):
    city = make_small_city()
    case = make_case(city["grid1"])
    event = CaseEvent(case_id=case.id, action="file")
    db.session.add(event)
    stored = store_photo(picture())
    with pytest.raises(ValidationFailed) as exc:
        attach_photos(case, event, [stored], None, kind="selfie")
    assert "photo_kind" in exc.value.fields
    attach_photos(case, event, [stored] * 9, None)
    with pytest.raises(ValidationFailed) as exc:
        attach_photos(case, event, [stored], None)
    assert reason(exc) == "at most 9 photos per step"


@pytest.fixture
def scene(app, media_root):
    """A case in grid 1 with one photo, and callers inside and outside its scope (as plain data).

    Built in its own app context: what the request loads into ``g`` (the anonymous user)
    must not leak into the test client's requests, which share the fixture's app context.
    """
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        city = make_small_city()
        sanitation = make_department()
        parks = make_department(code="PARK01", name="园林处", kind="landscaping")
        case = make_case(city["grid1"], holder_department_id=sanitation.id)
        event = CaseEvent(case_id=case.id, action="file")
        db.session.add(event)
        (photo,) = attach_photos(case, event, [store_photo(encode(halves((900, 300)), "PNG"))], None)
        users = {
            "area lead of grid 1": make_user("lead1", role="area_lead", area=city["grid1"]),
            "area lead of grid 2": make_user("lead2", role="area_lead", area=city["grid2"]),
            "unit staff holding it": make_user("san", role="unit_staff", department=sanitation),
            "unit staff of another unit": make_user("park", role="unit_staff", department=parks),
            "leader": make_user("boss", role="leader"),
            "grid worker without an area": make_user("nobody", role="grid_worker"),
        }
        db.session.commit()
        tokens = {name: issue_token(user, "tablet")[1] for name, user in users.items()}
        db.session.commit()
        return {
            "id": photo.id,
            "path": photo.path,
            "thumb_path": photo.thumb_path,
            "sha256": photo.sha256,
            "tokens": tokens,
        }


def get(client, url, secret, **headers):
    """GET with a bearer token; the body is read and the served file closed."""
    response = client.get(url, headers={"Authorization": f"Bearer {secret}", "Accept-Language": "en", **headers})
    response.get_data()
    response.close()
    return response


@pytest.mark.parametrize("caller", ["area lead of grid 1", "unit staff holding it", "leader"])
def test_callers_who_see_the_case_get_the_photo_and_thumbnail(client, scene, media_root, caller):
    secret = scene["tokens"][caller]
    response = get(client, f"/api/v1/photos/{scene['id']}", secret)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data == (media_root / scene["path"]).read_bytes()
    assert Image.open(io.BytesIO(response.data)).size == (900, 300)
    assert response.headers["ETag"] == f'"{scene["sha256"]}"'
    cache = response.cache_control
    assert cache.private and not cache.public and cache.immutable and cache.max_age == 365 * 24 * 3600
    assert {"Cookie", "Authorization"} <= set(response.vary)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    thumb = get(client, f"/api/v1/photos/{scene['id']}/thumb", secret)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.data)).size == (320, 107)


@pytest.mark.parametrize(
    "caller", ["area lead of grid 2", "unit staff of another unit", "grid worker without an area"]
)
def test_callers_outside_the_scope_get_the_same_404_as_for_a_missing_photo(client, scene, caller):
    secret = scene["tokens"][caller]
    missing = get(client, f"/api/v1/photos/{scene['id'] + 1000}", secret)
    assert missing.status_code == 404
    for url in (f"/api/v1/photos/{scene['id']}", f"/api/v1/photos/{scene['id']}/thumb"):
        response = get(client, url, secret)
        assert response.status_code == 404
        assert response.get_json() == missing.get_json()
        assert response.get_json()["error"] == "not_found"
        assert set(response.get_json()) == {"error", "message", "fields"}


def test_an_id_beyond_any_database_integer_is_simply_not_found(client, scene):
    secret = scene["tokens"]["leader"]
    for photo_id in (0, 2**31, 10**30):
        response = get(client, f"/api/v1/photos/{photo_id}/thumb", secret)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_photo_needs_a_signed_in_caller(client, scene):
    response = client.get(f"/api/v1/photos/{scene['id']}")
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"


def test_photo_is_served_conditionally(client, scene):
    secret = scene["tokens"]["leader"]
    url = f"/api/v1/photos/{scene['id']}"
    again = get(client, url, secret, **{"If-None-Match": f'"{scene["sha256"]}"'})
    assert again.status_code == 304 and again.data == b""
    part = get(client, url, secret, Range="bytes=0-9")
    assert part.status_code == 206 and len(part.data) == 10


def test_a_photo_whose_file_is_gone_answers_404_not_500(client, scene, media_root):
    (media_root / scene["thumb_path"]).unlink()
    response = get(client, f"/api/v1/photos/{scene['id']}/thumb", scene["tokens"]["leader"])
    assert response.status_code == 404
    assert response.get_json()["fields"] == {"photo_id": "file missing"}


def test_a_signed_in_page_session_can_show_the_photo(client, auth, scene):
    """Case pages show photos with <img src>: the browser sends its session cookie, no token."""
    auth.login("lead1")
    response = client.get(f"/api/v1/photos/{scene['id']}/thumb")
    response.close()
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
