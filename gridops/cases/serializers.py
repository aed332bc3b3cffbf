"""Cases as JSON for the API and as flat rows for exports: case fields only, never callers' data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from gridops.cases.models import Case, CaseEvent, CasePhoto
from gridops.cases.states import Action

#: Stage due times in the order of the loop (domain.md §6).
STAGES = ("register", "dispatch", "sign", "handle", "check")

#: Columns of the CSV and XLSX exports, in order.
EXPORT_COLUMNS = (
    "number", "state", "source", "case_type", "small_class_code", "small_class_name",
    "description", "address", "urgency", "area_code", "area_name", "unit_grid_code",
    "located_in_gap", "holder_unit_code", "holder_unit_name", "supervised", "self_handled",
    "overdue", "reported_at", "registered_at", "dispatched_at", "handled_at", "closed_at",
    "handle_due_at", "closed_on_time", "dispatch_count", "return_count", "rework_count",
    "extension_count", "x", "y", "datum",
)

_EXPORT_TIMES = ("reported_at", "registered_at", "dispatched_at", "handled_at", "closed_at", "handle_due_at")


def iso(value: datetime | None) -> str | None:
    """An aware instant as ISO 8601 (UTC as stored), or None."""
    return value.isoformat() if value is not None else None


def _ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def _person(user) -> dict | None:
    """A staff member as shown on a case: id and name, nothing more."""
    return {"id": user.id, "name": user.full_name} if user is not None else None


def photo_links(photo: CasePhoto, prefix: str) -> dict:
    """A photo's metadata and the API paths that serve it (access is checked there)."""
    return {
        "id": photo.id,
        "kind": photo.kind,
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "url": f"{prefix}/photos/{photo.id}",
        "thumb_url": f"{prefix}/photos/{photo.id}/thumb",
        "uploaded_at": iso(photo.uploaded_at),
    }


def case_summary(case: Case, colour: str) -> dict:
    """The fields of a case shown in lists; ``colour`` is computed on read by the caller."""
    small_class = case.small_class
    return {
        "number": case.number,
        "state": case.state,
        "source": case.source,
        "case_type": case.case_type,
        "small_class": {
            "code": small_class.code,
            "full_code": small_class.full_code,
            "name": small_class.name,
            "name_en": small_class.name_en,
        },
        "description": case.description,
        "address": case.address,
        "urgency": case.urgency,
        "position": {"x": case.x, "y": case.y, "datum": case.datum, "accuracy_m": case.accuracy_m},
        "area": _ref(case.area),
        "unit_grid": _ref(case.unit_grid),
        "located_in_gap": case.located_in_gap,
        "holder_unit": _ref(case.holder_department),
        "supervised": case.supervised,
        "self_handled": case.self_handled,
        "assignee": _person(case.assignee),
        "colour": colour,
        "overdue": colour == "red",
        "reported_at": iso(case.reported_at),
        "handle_due_at": iso(case.handle_due_at),
        "closed_at": iso(case.closed_at),
        "version": case.version,
    }


def event_dict(event: CaseEvent, prefix: str) -> dict:
    """One timeline entry: who (staff, by role), when, what, from → to, why, photos."""
    actor = event.actor
    return {
        "id": event.id,
        "at": iso(event.at),
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": {"username": actor.username, "full_name": actor.full_name} if actor else None,
        "actor_role": event.actor_role,
        "note": event.note,
        "payload": event.payload or {},
        "photos": [photo_links(photo, prefix) for photo in event.photos],
    }


def action_dict(action: Action) -> dict:
    """An action the caller may take now, with the inputs it needs."""
    return {
        "name": action.name,
        "label_zh": action.label_zh,
        "label_en": action.label_en,
        "target": action.target.value if action.target is not None else None,
        "required": sorted(item.value for item in action.required),
    }


def case_detail(
    case: Case, colour: str, events: list[CaseEvent], photos: list[CasePhoto],
    actions: list[Action], prefix: str,
) -> dict:
    """Everything about one case: its fields, stage clocks, timeline, photos and the caller's actions."""
    data = case_summary(case, colour)
    standard = case.standard
    data.update(
        standard=(
            {
                "id": standard.id,
                "name": standard.name,
                "limit_value": standard.limit_value,
                "limit_clock": standard.limit_clock,
                "closing_condition": standard.closing_condition,
            }
            if standard is not None
            else None
        ),
        suggested_unit=_ref(case.suggested_department),
        times={
            "reported_at": iso(case.reported_at),
            "registered_at": iso(case.registered_at),
            "dispatched_at": iso(case.dispatched_at),
            "signed_at": iso(case.signed_at),
            "handled_at": iso(case.handled_at),
            "closed_at": iso(case.closed_at),
        },
        due={stage: iso(getattr(case, f"{stage}_due_at")) for stage in STAGES},
        closed_on_time=case.closed_on_time,
        counts={
            "dispatch": case.dispatch_count,
            "return": case.return_count,
            "rework": case.rework_count,
            "extension": case.extension_count,
            "repeat": case.repeat_count,
        },
        layer={"x": case.layer_x, "y": case.layer_y, "version": case.layer_version},
        events=[event_dict(event, prefix) for event in events],
        photos=[photo_links(photo, prefix) for photo in photos],
        allowed_actions=[action_dict(action) for action in actions],
    )
    return data


def _local(value: datetime | None, zone: tzinfo) -> datetime | None:
    return value.astimezone(zone) if value is not None else None


def export_row(values: Mapping, zone: tzinfo) -> dict:
    """One export row (a case's columns, see ``exports.export_columns``) flattened, times in the city's zone."""
    row = {name: values[name] for name in EXPORT_COLUMNS if name != "small_class_code"}
    row["small_class_code"] = values["case_type"][0].upper() + values["small_class_code"]
    row["overdue"] = bool(values["overdue"])
    for name in _EXPORT_TIMES:
        row[name] = _local(values[name], zone)
    return row
