"""Permission predicates and scoping, in one place, used alike by services, views and templates.

Two scopes limit what a signed-in user sees:

- **area scope**: the subtree of ``user.area`` (by ``Area.path``). Admins, leaders and
  evaluators see the whole city; the centre's staff (operators, dispatchers, shift leaders)
  see the whole city unless given an area (a district centre). Grid workers and area leads
  are bound to their area: without one they see nothing, never the whole city.
- **department scope**: handling unit staff see their own unit and its sub-units.

Every predicate fails closed: signed out, deactivated or unscoped means no.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true

from gridops.auth.models import User
from gridops.auth.roles import Role
from gridops.extensions import db
from gridops.org.models import Department
from gridops.territory.models import Area

#: Roles that see the whole city whatever their area setting.
CITY_WIDE_ROLES = {Role.ADMIN, Role.LEADER, Role.EVALUATOR}

#: Roles tied to a piece of territory: without an area they see nothing.
AREA_BOUND_ROLES = {Role.GRID_WORKER, Role.AREA_LEAD}

#: Roles limited to their own handling unit.
DEPARTMENT_BOUND_ROLES = {Role.UNIT_STAFF}


def is_signed_in(user: User | None) -> bool:
    """A real, active user (not the anonymous user, not a deactivated account)."""
    return bool(user is not None and user.is_authenticated and user.is_active)


def has_role(user: User | None, *roles: Role) -> bool:
    """Signed in with one of ``roles``."""
    return is_signed_in(user) and user.role_enum in roles


def is_admin(user: User | None) -> bool:
    """Signed in as a system administrator."""
    return has_role(user, Role.ADMIN)


def can_manage_territory(user: User | None) -> bool:
    """Import grid layers, edit areas and levels."""
    return is_admin(user)


def can_manage_users(user: User | None) -> bool:
    """Create, deactivate and re-scope users; issue and revoke their API tokens."""
    return is_admin(user)


def can_view_map(user: User | None) -> bool:
    """Every signed-in user may open the territory map (what it shows is scoped)."""
    return is_signed_in(user)


def can_use_tablet(user: User | None) -> bool:
    """Open the grid worker's tablet app (report, verify, check on site)."""
    return has_role(user, Role.GRID_WORKER)


def sees_whole_city(user: User | None) -> bool:
    """True when no area limit applies to ``user``."""
    if not is_signed_in(user):
        return False
    role = user.role_enum
    if role in CITY_WIDE_ROLES:
        return True
    return role not in AREA_BOUND_ROLES and user.area_id is None


def scope_path(user: User | None) -> str | None:
    """The ``Area.path`` prefix of the user's subtree; None when there is none (see sees_whole_city)."""
    if not is_signed_in(user) or sees_whole_city(user) or user.area is None:
        return None
    return user.area.path


def can_view_area(user: User | None, area: Area) -> bool:
    """``area`` lies in the user's area subtree (the same rule as area_scope_clause)."""
    if sees_whole_city(user):
        return True
    prefix = scope_path(user)
    return prefix is not None and area.path.startswith(prefix)


def area_scope_clause(user: User | None, path_column) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose area path (``path_column``) lies in the user's scope."""
    if sees_whole_city(user):
        return true()
    prefix = scope_path(user)
    if prefix is None:
        return false()
    return path_column.startswith(prefix, autoescape=True)


def department_ids_in_scope(user: User | None) -> set[int] | None:
    """Ids of the departments the user is limited to (own unit and sub-units); None: no limit."""
    if not is_signed_in(user):
        return set()
    if user.role_enum not in DEPARTMENT_BOUND_ROLES:
        return None
    if user.department_id is None:
        return set()
    ids = {user.department_id}
    frontier = {user.department_id}
    while frontier:
        frontier = set(db.session.scalars(select(Department.id).where(Department.parent_id.in_(frontier))))
        frontier -= ids
        ids |= frontier
    return ids


def can_view_department(user: User | None, department: Department) -> bool:
    """``department`` is the user's unit or one of its sub-units (or the user has no such limit)."""
    if not is_signed_in(user):
        return False
    ids = department_ids_in_scope(user)
    return ids is None or department.id in ids


def department_scope_clause(user: User | None, department_column) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose department (``department_column``) is in the user's scope."""
    if not is_signed_in(user):
        return false()
    ids = department_ids_in_scope(user)
    if ids is None:
        return true()
    if not ids:
        return false()
    return department_column.in_(ids)


#: Hotline and supervision-centre staff (domain.md §8): the only roles that see callers unmasked.
CALLER_DATA_ROLES = {Role.HOTLINE_OPERATOR, Role.INTAKE_OPERATOR, Role.SHIFT_LEADER}


def can_see_caller(user: User | None) -> bool:
    """See a hotline caller's name and phone unmasked (each such view is recorded)."""
    return has_role(user, *CALLER_DATA_ROLES)


def can_audit_caller_data(user: User | None) -> bool:
    """Read the log of unmasked views of callers' data, and the retention purge's runs: administrators.

    Nobody reviews their own access: the roles that see callers unmasked (CALLER_DATA_ROLES)
    are the ones the log is about. The administrator grants and withdraws those roles, so
    acting on what the log shows is theirs; leaders, evaluators and area leads work on cases
    and figures, not on accounts, and the log spans the whole city.
    """
    return is_admin(user)


def can_take_hotline_calls(user: User | None) -> bool:
    """Log complaints, reply to callers and make follow-up calls at the hotline desk."""
    return has_role(user, Role.HOTLINE_OPERATOR)


def can_manage_gazetteer(user: User | None) -> bool:
    """Import the gazetteer of roads and landmarks."""
    return is_admin(user)


# ---- Evaluation: notices, early warnings, campaigns ----

#: Roles that read notices: the meeting's chair and staff, area leads and handling units.
NOTICE_READER_ROLES = {Role.ADMIN, Role.LEADER, Role.EVALUATOR, Role.AREA_LEAD, Role.UNIT_STAFF}


def can_manage_notices(user: User | None) -> bool:
    """Generate, refresh and publish notices; evaluate early warnings; record interviews and plans."""
    return has_role(user, Role.EVALUATOR, Role.ADMIN)


def can_view_notices(user: User | None) -> bool:
    """Open the notices list (which notices it shows is decided by can_view_notice)."""
    return has_role(user, *NOTICE_READER_ROLES)


def can_view_notice(user: User | None, notice) -> bool:
    """Evaluators, admins and leaders read every notice; others only published ones of their scope.

    Area leads read city notices and those of an area that contains or lies in theirs; unit
    staff read city notices. What a notice lists by name is narrowed further to the reader's
    scope when it is shown.
    """
    if has_role(user, Role.EVALUATOR, Role.ADMIN, Role.LEADER):
        return True
    if not can_view_notices(user) or notice.status != "published":
        return False
    if notice.scope_area is None:
        return True
    if user.role_enum is Role.AREA_LEAD:
        own = scope_path(user)
        return own is not None and (notice.scope_area.path.startswith(own) or own.startswith(notice.scope_area.path))
    return False


def can_view_warnings(user: User | None) -> bool:
    """Open early warnings, interviews and assistance plans (area leads: those of their area)."""
    return has_role(user, Role.EVALUATOR, Role.ADMIN, Role.LEADER, Role.AREA_LEAD)


def can_view_warning(user: User | None, warning) -> bool:
    """City-wide readers see every warning; an area lead those about an area in their subtree."""
    if has_role(user, Role.EVALUATOR, Role.ADMIN, Role.LEADER):
        return True
    if not has_role(user, Role.AREA_LEAD) or warning.area is None:
        return False
    return can_view_area(user, warning.area)


def can_manage_campaigns(user: User | None) -> bool:
    """Open special campaigns."""
    return has_role(user, Role.EVALUATOR, Role.ADMIN)


def can_view_campaigns(user: User | None) -> bool:
    """Follow special campaigns' progress."""
    return has_role(user, Role.EVALUATOR, Role.ADMIN, Role.LEADER, Role.AREA_LEAD)


def can_use_command_centre(user: User | None) -> bool:
    """Open the command centre: the intake operators, dispatchers and shift leaders of the centre."""
    return has_role(user, Role.INTAKE_OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER)


def can_use_unit_inbox(user: User | None) -> bool:
    """Open a handling unit's inbox: unit staff with a unit."""
    return has_role(user, Role.UNIT_STAFF) and user.department_id is not None


def can_use_leader_view(user: User | None) -> bool:
    """Open the leader view: leaders and area leads."""
    return has_role(user, Role.LEADER, Role.AREA_LEAD)


def can_view_indicators(user: User | None) -> bool:
    """Read indicators, scores and rankings: what is shown is scoped (an area lead's area, a unit's own)."""
    return has_role(
        user, Role.EVALUATOR, Role.ADMIN, Role.LEADER, Role.AREA_LEAD, Role.SHIFT_LEADER, Role.UNIT_STAFF,
        Role.DISPATCHER, Role.INTAKE_OPERATOR,
    )


def can_manage_score_schemes(user: User | None) -> bool:
    """Create and change score schemes (weights, thresholds, deductions, grade bands)."""
    return has_role(user, Role.EVALUATOR, Role.ADMIN)


#: Roles to which supervision orders are addressed (the centre, grid workers, units, area leads, leaders, hotline).
SUPERVISION_INBOX_ROLES = (
    Role.GRID_WORKER, Role.INTAKE_OPERATOR, Role.DISPATCHER, Role.UNIT_STAFF, Role.SHIFT_LEADER, Role.AREA_LEAD,
    Role.LEADER, Role.HOTLINE_OPERATOR,
)


def can_use_supervision_inbox(user: User | None) -> bool:
    """Open the supervision inbox (督办): the roles orders are addressed to."""
    return has_role(user, *SUPERVISION_INBOX_ROLES)


#: Roles whose API token may serve as an Open311 api_key: the desks that take in public
#: reports. An outside 311 app gets a user of such a role (scoped to the area it serves)
#: and a token; what it files is a public report, verified on site before registration.
OPEN311_ROLES = {Role.HOTLINE_OPERATOR, Role.INTAKE_OPERATOR}


def can_file_open311_reports(user: User | None) -> bool:
    """File public reports through Open311 GeoReport v2 with this user's API token as api_key."""
    return has_role(user, *OPEN311_ROLES)
