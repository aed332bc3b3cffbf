"""Likely duplicates (疑似重复): open cases of the same small class near a report in place and time.

A report is compared with the open cases of its small class reported within the city's
time window (default 24 h, either side) whose position lies within the city's radius
(default 50 m, domain.md §5). The database narrows the candidates by class, state, a
bounding box around the report (in the layer's datum, padded) and time; the exact distance
is then measured on the WGS-84 ellipsoid with pyproj's geodesic, after converting both
positions out of the layer's datum, so a GCJ-02 layer gives true metres too.

Candidates are ranked best first by a score in [0, 1] (see ``score``):

    score = 0.5 × (1 − distance / radius) + 0.3 × (1 − hours apart / window) + 0.2 × same grid

Nearness in space weighs most (the same spot is the strongest sign), nearness in time
next, and lying in the same unit grid settles close calls. Ties go to the nearer case,
then the older one (the one a merge would keep).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from flask_babel import gettext as _
from pyproj import Geod
from sqlalchemy import and_, select, text
from sqlalchemy.orm import joinedload

from gridops.auth.models import User
from gridops.auth.permissions import is_admin
from gridops.cases.models import OPEN_CASE_SQL, Case
from gridops.cases.queries import visible_cases
from gridops.catalogue.models import CatalogueChange
from gridops.errors import NotAllowed, OutsideTerritory, ValidationFailed
from gridops.extensions import db
from gridops.territory.datum import check_datum, convert
from gridops.territory.locator import get_locator
from gridops.worktime.models import CitySetting
from gridops.worktime.store import drop_setting, put_setting

RADIUS_KEY = "duplicates.radius_m"
WINDOW_KEY = "duplicates.window_hours"
DEFAULT_RADIUS_M = 50.0
DEFAULT_WINDOW_HOURS = 24.0
MAX_RADIUS_M = 5000.0
MAX_WINDOW_HOURS = 24.0 * 30
MAX_LIMIT = 50
#: Weights of the score's parts: distance, time, same unit grid (they sum to 1).
WEIGHT_DISTANCE, WEIGHT_TIME, WEIGHT_SAME_GRID = 0.5, 0.3, 0.2
#: Metres per degree of latitude, at least (the meridian degree is 110.57–111.69 km).
_METRES_PER_DEGREE = 110_000.0
#: Bounding-box padding: the layer datum's offset changes slowly, never by this much over a box.
_PAD = 1.2

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class DuplicateRules:
    """How near in space and time two reports of one small class must be to look alike."""

    radius_m: float = DEFAULT_RADIUS_M
    window_hours: float = DEFAULT_WINDOW_HOURS


@dataclass(frozen=True)
class DuplicateCandidate:
    """An open case that may report the same problem, with why it looks so."""

    case: Case
    distance_m: float
    hours_apart: float
    same_grid: bool
    score: float


def duplicate_rules() -> DuplicateRules:
    """The city's radius and time window (stored settings; defaults 50 m and 24 h)."""
    rows = dict(
        db.session.execute(
            select(CitySetting.key, CitySetting.value).where(CitySetting.key.in_((RADIUS_KEY, WINDOW_KEY)))
        ).all()
    )
    return DuplicateRules(
        float(rows.get(RADIUS_KEY, DEFAULT_RADIUS_M)), float(rows.get(WINDOW_KEY, DEFAULT_WINDOW_HOURS))
    )


def _refusal(value, maximum: float) -> str | None:
    """Why ``value`` cannot be a radius or a window (None: it can)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return _("must be a finite number")
    if not 0 < value <= maximum:
        return _("must be above 0 and at most %(maximum)s", maximum=f"{maximum:g}")
    return None


def _check_admin(actor: User | None) -> None:
    """``actor`` None is the command line; anyone else must be an administrator."""
    if actor is not None and not is_admin(actor):
        raise NotAllowed(_("Only administrators may change the duplicate rules."))


def set_duplicate_rules(actor: User | None, *, radius_m=None, window_hours=None) -> DuplicateRules:
    """Change the radius and/or window (None: unchanged); nothing is stored unless both are valid.

    Administrators, or the command line (``actor`` None).
    """
    _check_admin(actor)
    before = duplicate_rules()
    values, problems = {}, {}
    for name, value, maximum in (("radius_m", radius_m, MAX_RADIUS_M), ("window_hours", window_hours, MAX_WINDOW_HOURS)):
        if value is None:
            continue
        reason = _refusal(value, maximum)
        if reason:
            problems[name] = reason
        else:
            values[name] = float(value)
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    after = replace(before, **values)
    put_setting(RADIUS_KEY, after.radius_m, actor)
    put_setting(WINDOW_KEY, after.window_hours, actor)
    CatalogueChange.record("duplicate_rules", 0, "update", actor, asdict(before), asdict(after))
    db.session.flush()
    return after


def reset_duplicate_rules(actor: User | None) -> DuplicateRules:
    """Go back to the defaults (50 m, 24 h): the stored values are removed, so later defaults apply too."""
    _check_admin(actor)
    before = duplicate_rules()
    drop_setting(RADIUS_KEY)
    drop_setting(WINDOW_KEY)
    after = DuplicateRules()
    CatalogueChange.record("duplicate_rules", 0, "reset", actor, asdict(before), asdict(after))
    db.session.flush()
    return after


def score(distance_m: float, hours_apart: float, same_grid: bool, rules: DuplicateRules) -> float:
    """The documented ranking score: 1 for the same spot, the same instant and the same grid."""
    near = max(0.0, 1.0 - distance_m / rules.radius_m)
    soon = max(0.0, 1.0 - hours_apart / rules.window_hours)
    return round(WEIGHT_DISTANCE * near + WEIGHT_TIME * soon + WEIGHT_SAME_GRID * bool(same_grid), 4)


def distance_m(x1: float, y1: float, x2: float, y2: float) -> float:
    """Geodesic distance in metres between two WGS-84 positions (x = longitude, y = latitude)."""
    return float(_GEOD.inv(x1, y1, x2, y2)[2])


def likely_duplicates(
    *,
    small_class_id: int,
    x: float,
    y: float,
    datum: str,
    at: datetime,
    user: User,
    exclude_case_id: int | None = None,
    limit: int = 10,
    rules: DuplicateRules | None = None,
) -> list[DuplicateCandidate]:
    """Open cases of ``small_class_id`` within the rules' radius of (x, y) and window of ``at``, best first.

    Only cases ``user`` may see are considered. The position is in ``datum``; ``at`` is
    the report's time (aware). ``exclude_case_id`` leaves out the report itself.
    """
    problems: dict[str, str] = {}
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems[name] = _("must be a finite number")
    if not problems and not (-180 <= x <= 180 and -90 <= y <= 90):
        problems["x" if not -180 <= x <= 180 else "y"] = _("must be a longitude and latitude in degrees")
    if not isinstance(at, datetime) or at.utcoffset() is None:
        problems["at"] = _("must be a date and time with its time zone")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        problems["limit"] = _("must be between 1 and %(count)d", count=MAX_LIMIT)
    try:
        datum = check_datum(datum)
    except ValidationFailed as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationFailed(_("Check the marked fields."), problems)
    rules = rules or duplicate_rules()

    locator = get_locator()
    layer_x, layer_y = convert(x, y, datum, locator.datum)
    try:
        unit_grid = locator.locate(x, y, datum).unit_grid
    except OutsideTerritory:
        unit_grid = None
    # Degrees per metre along the parallel grow towards the poles; cap the latitude so the box stays finite.
    dy = _PAD * rules.radius_m / _METRES_PER_DEGREE
    dx = dy / max(math.cos(math.radians(min(abs(layer_y), 89.0))), 1e-6)
    window = timedelta(hours=rules.window_hours)
    stmt = (
        visible_cases(user)
        .where(
            Case.small_class_id == small_class_id,
            text(f"{Case.__tablename__}.{OPEN_CASE_SQL}"),  # verbatim, so the partial index applies
            and_(Case.layer_y >= layer_y - dy, Case.layer_y <= layer_y + dy),
            and_(Case.layer_x >= layer_x - dx, Case.layer_x <= layer_x + dx),
            and_(Case.reported_at >= at - window, Case.reported_at <= at + window),
        )
        .options(joinedload(Case.small_class), joinedload(Case.area), joinedload(Case.unit_grid),
                 joinedload(Case.holder_department))
    )
    if exclude_case_id is not None:
        stmt = stmt.where(Case.id != exclude_case_id)

    to_wgs = locator.datum
    here = convert(layer_x, layer_y, to_wgs, "wgs84")
    found = []
    for case in db.session.scalars(stmt).unique():
        there = convert(case.layer_x, case.layer_y, to_wgs, "wgs84")
        metres = distance_m(*here, *there)
        if metres > rules.radius_m:
            continue
        hours = abs((case.reported_at - at).total_seconds()) / 3600.0
        same_grid = unit_grid is not None and case.unit_grid_id == unit_grid.id
        found.append(
            DuplicateCandidate(case, round(metres, 1), round(hours, 2), same_grid,
                               score(metres, hours, same_grid, rules))
        )
    found.sort(key=lambda c: (-c.score, c.distance_m, c.case.reported_at, c.case.id))
    return found[:limit]


def duplicates_of(case: Case, user: User, *, limit: int = 10) -> list[DuplicateCandidate]:
    """Likely duplicates of an existing case (itself left out), as ``user`` may see them."""
    if case.x is None or case.y is None:
        return []
    return likely_duplicates(
        small_class_id=case.small_class_id, x=case.x, y=case.y, datum=case.datum, at=case.reported_at,
        user=user, exclude_case_id=case.id, limit=limit,
    )
