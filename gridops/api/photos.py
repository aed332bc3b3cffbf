"""Photo endpoints: a case photo or its thumbnail, only for callers who may see the case.

A photo of a case outside the caller's scope answers 404 exactly like a photo that does
not exist, so ids cannot be probed. Files never change (they are named by their hash), so
browsers may keep them for a year, privately: the answer depends on who asks.
"""

from __future__ import annotations

from flask import current_app, send_from_directory
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import NotFound as FileMissing

from gridops.api import bp
from gridops.cases.models import Case, CasePhoto
from gridops.cases.photos import media_dir
from gridops.cases.queries import visible_cases
from gridops.errors import NotFound
from gridops.extensions import db

CACHE_SECONDS = 365 * 24 * 3600


def _visible_photo(photo_id: int) -> CasePhoto:
    """The photo when its case is visible to the caller; otherwise 404, whether it exists or not."""
    visible_ids = visible_cases(current_user).with_only_columns(Case.id)
    photo = db.session.scalar(
        select(CasePhoto).where(CasePhoto.id == photo_id, CasePhoto.case_id.in_(visible_ids))
    )
    if photo is None:
        raise NotFound(_("There is no such photo."), {"photo_id": _("unknown")})
    return photo


def _send(photo: CasePhoto, relative_path: str, etag: str):
    try:
        response = send_from_directory(
            media_dir(),
            relative_path,
            mimetype=photo.content_type,
            conditional=True,
            etag=etag,
            max_age=CACHE_SECONDS,
        )
    except FileMissing:
        current_app.logger.error("photo %s: file %s is missing from the media folder", photo.id, relative_path)
        raise NotFound(_("The file of this photo is missing."), {"photo_id": _("file missing")}) from None
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.immutable = True
    response.vary.update(("Cookie", "Authorization"))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/photos/<id:photo_id>")
def get_photo(photo_id: int):
    """A case photo (JPEG, at most 2048 px on its long edge)."""
    photo = _visible_photo(photo_id)
    return _send(photo, photo.path, photo.sha256)


@bp.get("/photos/<id:photo_id>/thumb")
def get_photo_thumb(photo_id: int):
    """The photo's thumbnail (JPEG, at most 320 px on its long edge)."""
    photo = _visible_photo(photo_id)
    return _send(photo, photo.thumb_path, f"{photo.sha256}-thumb")
