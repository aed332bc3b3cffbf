"""Case photos: checked by content, turned upright, resized, re-encoded and stored under their hash.

What is kept: every accepted photo (JPEG, PNG or WebP, recognised from its bytes, never from
its name) is stored as a JPEG of at most 2048 px on its long edge, with a thumbnail of at
most 320 px. Transparent areas (PNG, WebP) are flattened onto white: these are photos of
public space, and one format keeps storage, serving and exports simple. Re-encoding drops
all metadata (EXIF with its GPS position and camera serials, XMP, comments); only the
colour profile is kept, when the colour space did not change, so phone photos keep their
colours. The position of a photo is the case's, recorded by the workflow, not the camera's.

Files are named by the SHA-256 of their stored bytes, in folders by UTC upload date under
``GRIDOPS_MEDIA_DIR`` (``2026/11/21/<sha256>.jpg`` and ``…/<sha256>.thumb.jpg``), and are
written atomically: a reader never sees half a file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from gridops.auth.models import User
from gridops.cases.models import PHOTO_KINDS, Case, CaseEvent, CasePhoto
from gridops.db import utcnow
from gridops.errors import ValidationFailed
from gridops.extensions import db

MAX_PHOTOS_PER_STEP = 9
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: Larger than any phone camera's 50-megapixel mode; decoding one needs at most ~256 MB.
MAX_PIXELS = 64_000_000
MAX_EDGE = 2048
THUMB_EDGE = 320
JPEG_QUALITY = 85
THUMB_QUALITY = 80
CONTENT_TYPE = "image/jpeg"
#: Pillow decoders tried; the JPEG one also opens MPO, the multi-picture JPEG of many phones.
OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
ACCEPTED_FORMATS = {*OPEN_FORMATS, "MPO"}
#: Owner and group may read (backups, a proxy serving media); others may not: faces, plates.
FILE_MODE = 0o640

_READ_CHUNK = 1024 * 1024
#: What Pillow raises on malformed input (its warnings too, where warnings are made errors).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, UserWarning)
_RGB_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"}
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}


@dataclass(frozen=True)
class StoredPhoto:
    """A photo written under the media folder; paths are relative to it, with forward slashes."""

    path: str
    thumb_path: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    #: Files this call created (not those an earlier upload of the same bytes already left).
    written: tuple[str, ...] = field(default=(), repr=False, compare=False)


def media_dir() -> Path:
    """The media folder (``GRIDOPS_MEDIA_DIR``); a relative one lies in the instance folder."""
    return Path(current_app.instance_path) / current_app.config["GRIDOPS_MEDIA_DIR"]


def _reject(reason: str, label: str | None) -> ValidationFailed:
    if label:
        reason = _("%(name)s: %(reason)s", name=label, reason=reason)
    return ValidationFailed.field("photos", reason)


def _read_limited(stream: BinaryIO) -> bytes:
    """At most MAX_PHOTO_BYTES + 1 bytes: enough to know a file is too large, never more."""
    chunks = []
    remaining = MAX_PHOTO_BYTES + 1
    while remaining > 0:
        chunk = stream.read(min(_READ_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _looks_like_accepted_format(data: bytes) -> bool:
    """The signature of JPEG, PNG or WebP: such a file Pillow cannot open is corrupt, not foreign."""
    return (
        data.startswith(b"\xff\xd8\xff")
        or data.startswith(b"\x89PNG\r\n\x1a\n")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def _open(data: bytes, label: str | None) -> Image.Image:
    """Open, verify and reopen the image; reject anything but an intact JPEG, PNG or WebP."""
    not_accepted = _("not a JPEG, PNG or WebP image")
    corrupt = _("image is corrupt")
    too_large = _(
        "image has too many pixels (at most %(megapixels)d megapixels)", megapixels=MAX_PIXELS // 10**6
    )
    try:
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise _reject(not_accepted, label)
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject(too_large, label) from None
    except UnidentifiedImageError:
        raise _reject(corrupt if _looks_like_accepted_format(data) else not_accepted, label) from None
    except _DECODE_ERRORS:
        raise _reject(corrupt, label) from None
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise _reject(too_large, label)
    return image


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _colour_space(mode: str) -> str:
    if mode in _RGB_MODES:
        return "RGB"
    if mode in _GRAY_MODES:
        return "L"
    return mode


def _storable(image: Image.Image) -> Image.Image:
    """RGB or L, transparency flattened onto white, 16-bit grey scaled rather than clipped."""
    mode = image.mode
    has_alpha = mode in {"RGBA", "RGBa", "LA", "La", "PA"} or "transparency" in image.info
    if has_alpha:
        grey = _colour_space(mode) == "L"
        layer = image.convert("LA" if grey else "RGBA")
        flat = Image.new("L" if grey else "RGB", layer.size, 255 if grey else (255, 255, 255))
        flat.paste(layer, mask=layer.getchannel("A"))
        return flat
    if mode.startswith("I"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if mode in {"RGB", "L"}:
        return image
    return image.convert("L" if mode == "1" else "RGB")


def _encode(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    buffer = io.BytesIO()
    image.info = {}  # nothing from the upload (comments, XMP) may ride along into the new file
    image.save(buffer, "JPEG", quality=quality, optimize=True, icc_profile=icc_profile)
    return buffer.getvalue()


def _process(data: bytes, label: str | None) -> tuple[bytes, bytes, tuple[int, int]]:
    """The stored JPEG, its thumbnail and the stored size, from validated upload bytes."""
    with _open(data, label) as image:
        try:
            # JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers the target size.
            image.draft(image.mode, _fit(image.size, MAX_EDGE))
            source_mode = image.mode
            icc_profile = image.info.get("icc_profile")
            ImageOps.exif_transpose(image, in_place=True)
            image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
            full = _storable(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, *_DECODE_ERRORS):
            raise _reject(_("image is corrupt"), label) from None
        if _colour_space(source_mode) != _colour_space(full.mode):
            icc_profile = None
        thumb = full.copy()
        thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
        return _encode(full, JPEG_QUALITY, icc_profile), _encode(thumb, THUMB_QUALITY, icc_profile), full.size


def _write_once(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` atomically; False when the file was already there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, FILE_MODE)
        try:
            # Like a rename, but never over a file: one that exists belongs to another upload
            # of the same bytes, which a failing request must not delete as its own.
            os.link(temp_name, target)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}:
                raise
            if target.exists():
                return False
            os.replace(temp_name, target)  # a file system without hard links
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return True


def _label(data: bytes | FileStorage, filename: str | None) -> str | None:
    name = filename if filename is not None else getattr(data, "filename", None)
    return name[:100] if name else None


def store_photo(data: bytes | FileStorage, *, filename: str | None = None) -> StoredPhoto:
    """Validate one uploaded photo and store it with its thumbnail; ``filename`` only names it in errors."""
    label = _label(data, filename)
    content = _read_limited(data.stream) if isinstance(data, FileStorage) else bytes(data)
    if not content:
        raise _reject(_("the file is empty"), label)
    if len(content) > MAX_PHOTO_BYTES:
        raise _reject(_("larger than %(megabytes)d MB", megabytes=MAX_PHOTO_BYTES // 2**20), label)
    full, thumb, (width, height) = _process(content, label)
    digest = hashlib.sha256(full).hexdigest()
    folder = f"{utcnow():%Y/%m/%d}"
    path, thumb_path = f"{folder}/{digest}.jpg", f"{folder}/{digest}.thumb.jpg"
    root = media_dir()
    written = []
    try:
        for relative, payload in ((thumb_path, thumb), (path, full)):
            if _write_once(root / relative, payload):
                written.append(relative)
    except OSError:
        _remove(root, written)
        raise
    return StoredPhoto(
        path=path,
        thumb_path=thumb_path,
        content_type=CONTENT_TYPE,
        width=width,
        height=height,
        size_bytes=len(full),
        sha256=digest,
        written=tuple(written),
    )


def _remove(root: Path, relative_paths: Iterable[str]) -> None:
    for relative in relative_paths:
        (root / relative).unlink(missing_ok=True)


def discard_photos(stored: Iterable[StoredPhoto]) -> None:
    """Delete the files these uploads created, when they will not be attached after all."""
    root = media_dir()
    for photo in stored:
        _remove(root, photo.written)


def _is_empty_form_field(item: bytes | FileStorage) -> bool:
    """A file input left empty: browsers still send a part, with no file name."""
    return isinstance(item, FileStorage) and not item.filename


def store_photos(files: Iterable[bytes | FileStorage]) -> list[StoredPhoto]:
    """Store the photos of one step (at most 9); if one is refused, none of them is kept."""
    items = [item for item in files if not _is_empty_form_field(item)]
    if len(items) > MAX_PHOTOS_PER_STEP:
        raise ValidationFailed.field(
            "photos", _("at most %(count)d photos per step", count=MAX_PHOTOS_PER_STEP)
        )
    stored: list[StoredPhoto] = []
    try:
        for number, item in enumerate(items, start=1):
            name = _label(item, None) or (_("photo %(number)d", number=number) if len(items) > 1 else None)
            stored.append(store_photo(item, filename=name))
    except BaseException:
        discard_photos(stored)
        raise
    return stored


def attach_photos(
    case: Case,
    event: CaseEvent | None,
    stored: list[StoredPhoto],
    uploaded_by: User | None,
    kind: str = "other",
) -> list[CasePhoto]:
    """Record stored photos on a case and the step (event) that brought them; flushes, never commits."""
    if kind not in PHOTO_KINDS:
        raise ValidationFailed.field(
            "photo_kind", _("must be one of %(kinds)s", kinds=", ".join(PHOTO_KINDS))
        )
    already = len(event.photos) if event is not None else 0
    if already + len(stored) > MAX_PHOTOS_PER_STEP:
        raise ValidationFailed.field(
            "photos", _("at most %(count)d photos per step", count=MAX_PHOTOS_PER_STEP)
        )
    if case.id is None:
        db.session.flush()
    photos = [
        CasePhoto(
            case_id=case.id,
            event=event,
            kind=kind,
            path=item.path,
            thumb_path=item.thumb_path,
            content_type=item.content_type,
            width=item.width,
            height=item.height,
            size_bytes=item.size_bytes,
            sha256=item.sha256,
            uploaded_by_id=uploaded_by.id if uploaded_by is not None else None,
        )
        for item in stored
    ]
    db.session.add_all(photos)
    db.session.flush()
    return photos
