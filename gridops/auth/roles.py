"""The roles of domain.md §1, with their names in both languages."""

from __future__ import annotations

import enum


class Role(str, enum.Enum):
    GRID_WORKER = "grid_worker"
    HOTLINE_OPERATOR = "hotline_operator"
    INTAKE_OPERATOR = "intake_operator"
    DISPATCHER = "dispatcher"
    SHIFT_LEADER = "shift_leader"
    UNIT_STAFF = "unit_staff"
    AREA_LEAD = "area_lead"
    LEADER = "leader"
    EVALUATOR = "evaluator"
    ADMIN = "admin"

    @property
    def label_zh(self) -> str:
        return ROLE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return ROLE_LABELS[self][1]

    def label(self, locale: str) -> str:
        return self.label_en if locale == "en" else self.label_zh


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.GRID_WORKER: ("网格员", "Grid worker"),
    Role.HOTLINE_OPERATOR: ("12345 话务员", "Hotline operator"),
    Role.INTAKE_OPERATOR: ("受理员", "Intake operator"),
    Role.DISPATCHER: ("派遣员", "Dispatcher"),
    Role.SHIFT_LEADER: ("值班长", "Shift leader"),
    Role.UNIT_STAFF: ("处置单位人员", "Handling unit staff"),
    Role.AREA_LEAD: ("区域负责人", "Area lead"),
    Role.LEADER: ("领导", "Leader"),
    Role.EVALUATOR: ("考核员", "Evaluator"),
    Role.ADMIN: ("系统管理员", "Administrator"),
}

ROLE_VALUES = tuple(role.value for role in Role)
