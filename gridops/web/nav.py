"""The main navigation: one entry per workspace, shown to the users who may open it.

Each package adds its own entry to ``MAIN_NAV``; the layout renders ``nav_items(user)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l

from gridops.auth import permissions


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    visible: Callable[[object], bool]
    #: Marks the item current when the request's endpoint starts with this prefix.
    current_prefix: str
    #: A count shown beside the label (e.g. unread orders); None: no count.
    badge: Callable[[object], int] | None = None


def _unread_orders(user) -> int:
    from gridops.supervision.queries import inbox_counts

    return inbox_counts(user).unread


MAIN_NAV: list[NavItem] = [
    NavItem("cases.case_list", _l("Cases"), permissions.is_signed_in, "cases."),
    NavItem("territory.map_page", _l("Territory map"), permissions.can_view_map, "territory.map_page"),
    NavItem("tablet.home", _l("Tablet"), permissions.can_use_tablet, "tablet."),
    NavItem("workspaces.command", _l("Command centre"), permissions.can_use_command_centre, "workspaces.command"),
    NavItem("workspaces.inbox", _l("Unit inbox"), permissions.can_use_unit_inbox, "workspaces.inbox"),
    NavItem("workspaces.leader", _l("Leader view"), permissions.can_use_leader_view, "workspaces.leader"),
    NavItem(
        "evaluation.index",
        _l("Evaluation"),
        lambda user: permissions.can_view_notices(user) or permissions.can_view_campaigns(user),
        "evaluation.",
    ),
    NavItem("hotline.desk", _l("Hotline desk"), permissions.can_take_hotline_calls, "hotline.desk"),
    NavItem("hotline.gazetteer", _l("Gazetteer"), permissions.can_manage_gazetteer, "hotline.gazetteer"),
    NavItem("supervision.inbox", _l("Supervision"), permissions.can_use_supervision_inbox, "supervision.",
            badge=_unread_orders),
    NavItem("admin.index", _l("Administration"), permissions.is_admin, "admin."),
]


def nav_items(user) -> list[NavItem]:
    """The entries ``user`` may open, in menu order."""
    return [item for item in MAIN_NAV if item.visible(user)]
