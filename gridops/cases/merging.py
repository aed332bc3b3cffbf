"""并单: merging a duplicate report into the case that already holds the problem, and undoing it.

The duplicate's photos, hotline contacts (every caller stays a contact, as the 2025 hotline
rules require) and, when the master has none, its hotline order move to the master; the
duplicate's reporter and its own co-reporters become co-reporters of the master, so they keep
sight of the problem; the
master's repeat count grows by the duplicate and its own repeats, which can make it urgent
(the hotline's threshold). Both timelines record the merge; the duplicate ends in state
``merged`` with ``merged_into_id`` set. ``CaseMerge`` records exactly what moved, so an
undo on the same local day puts every row back and takes back exactly what the master
gained. The duplicate's own events stay on it: the log is never edited.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm.attributes import flag_modified

from gridops.auth.models import User
from gridops.cases.models import Case, CaseMerge, CasePhoto, CaseReporter
from gridops.cases.services import (
    ASSIGNED_STATES,
    _append_event,
    _begin,
    _flush,
    _service,
    grid_worker_id,
    in_scope,
)
from gridops.cases.states import Scope, State
from gridops.errors import NotAllowed, ValidationFailed
from gridops.extensions import db
from gridops.hotline.models import HotlineContact, HotlineOrder
from gridops.hotline.settings import hotline_settings


def active_merge(case: Case) -> CaseMerge | None:
    """The merge that made ``case`` a duplicate and has not been undone."""
    return db.session.scalar(
        select(CaseMerge)
        .where(CaseMerge.duplicate_id == case.id, CaseMerge.undone_at.is_(None))
        .order_by(CaseMerge.id.desc())
        .limit(1)
    )


def merges_into(master: Case) -> list[CaseMerge]:
    """The standing merges of duplicates into ``master``, oldest first."""
    return list(
        db.session.scalars(
            select(CaseMerge)
            .where(CaseMerge.master_id == master.id, CaseMerge.undone_at.is_(None))
            .order_by(CaseMerge.id)
        )
    )


def merge_links(case: Case) -> dict:
    """The case's place among merges: the master it was merged into, the duplicates merged into it."""
    master = db.session.scalar(select(Case.number).where(Case.id == case.merged_into_id)) if case.merged_into_id else None
    rows = db.session.execute(
        select(Case.number, CaseMerge.merged_at)
        .join(Case, Case.id == CaseMerge.duplicate_id)
        .where(CaseMerge.master_id == case.id, CaseMerge.undone_at.is_(None))
        .order_by(CaseMerge.id)
    ).all()
    return {
        "merged_into": master,
        "merged_cases": [{"number": number, "merged_at": at.isoformat()} for number, at in rows],
        "co_reporters": co_reporters(case),
    }


def co_reporters(case: Case) -> list[dict]:
    """The case's co-reporters (reporters of duplicates merged into it) as ``{id, name}``, by id."""
    rows = db.session.execute(
        select(User.id, User.full_name)
        .join(CaseReporter, CaseReporter.user_id == User.id)
        .where(CaseReporter.case_id == case.id)
        .order_by(User.id)
    ).all()
    return [{"id": user_id, "name": name} for user_id, name in rows]


def _add_co_reporters(duplicate: Case, master: Case, record: CaseMerge) -> int:
    """Make the duplicate's reporter and co-reporters co-reporters of ``master``; how many were added."""
    wanted = {duplicate.reporter_id, *db.session.scalars(
        select(CaseReporter.user_id).where(CaseReporter.case_id == duplicate.id)
    )}
    present = {master.reporter_id, *db.session.scalars(
        select(CaseReporter.user_id).where(CaseReporter.case_id == master.id)
    )}
    new = sorted(wanted - present - {None})
    for user_id in new:
        db.session.add(CaseReporter(case_id=master.id, user_id=user_id, merge_id=record.id))
    return len(new)


def _local_day(at: datetime):
    return at.astimezone(ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])).date()


def undo_problem(case: Case, now: datetime) -> str | None:
    """Why the merge of ``case`` cannot be undone at ``now`` (None: it can)."""
    record = active_merge(case)
    if record is None:
        return _("This case was not merged into another one.")
    if _local_day(record.merged_at) != _local_day(now):
        return _("A merge can be undone only on the day it was made.")
    if record.master.state == State.MERGED.value:
        return _("The master case has since been merged into another case: undo that merge first.")
    return None


def merge_problems(duplicate: Case, master: Case | None, actor: User, confirm: bool) -> dict[str, str]:
    """The refusals of merging ``duplicate`` into ``master``, by field (empty: it may go ahead)."""
    if not isinstance(master, Case):
        return {"master": _("is required")}
    if master.id == duplicate.id:
        return {"master": _("a case cannot be merged into itself")}
    if not master.state_enum.is_open:
        return {"master": _("must be an open case")}
    if not in_scope(master, actor, Scope.AREA):
        raise NotAllowed(_("The master case is outside your responsibility."))
    if not confirm:
        differences = []
        if duplicate.unit_grid_id != master.unit_grid_id:
            differences.append(_("different grids"))
        if duplicate.small_class_id != master.small_class_id:
            differences.append(_("different small classes"))
        if differences:
            return {"confirm": _("the cases lie in %(what)s: confirm the merge", what=", ".join(differences))}
    return {}


@_service
def merge_case(
    duplicate: Case,
    master: Case,
    actor: User,
    *,
    confirm: bool = False,
    now: datetime | None = None,
    expected_version: int | None = None,
    **inputs,
) -> CaseMerge:
    """Merge ``duplicate`` into ``master`` (并单); across grids or small classes only with ``confirm``."""
    step = _begin(duplicate, "merge", actor, expected_version, {**inputs, "master": master}, now)
    problems = merge_problems(duplicate, master, actor, confirm)
    if problems:
        raise ValidationFailed(_("The cases cannot be merged: check the marked fields."), problems)
    photos = list(db.session.scalars(select(CasePhoto).where(CasePhoto.case_id == duplicate.id)))
    contacts = list(db.session.scalars(select(HotlineContact).where(HotlineContact.case_id == duplicate.id)))
    order = db.session.scalar(select(HotlineOrder).where(HotlineOrder.case_id == duplicate.id))
    if order is not None and db.session.scalar(select(HotlineOrder.id).where(HotlineOrder.case_id == master.id)):
        order = None  # the master answers to its own order; the duplicate's stays with it
    for row in (*photos, *contacts, *([order] if order else [])):
        row.case_id = master.id

    added = 1 + duplicate.repeat_count
    master.repeat_count += added
    raised = master.urgency != "urgent" and (
        duplicate.urgency == "urgent" or master.repeat_count >= hotline_settings().urgent_after_repeats
    )
    if raised:
        master.urgency = "urgent"
    record = CaseMerge(
        duplicate_id=duplicate.id,
        master_id=master.id,
        merged_at=step.now,
        merged_by_id=actor.id,
        previous_state=duplicate.state,
        cross_grid=duplicate.unit_grid_id != master.unit_grid_id,
        cross_class=duplicate.small_class_id != master.small_class_id,
        moved_photo_ids=[photo.id for photo in photos],
        moved_contact_ids=[contact.id for contact in contacts],
        moved_order_id=order.id if order else None,
        repeat_added=added,
        urgency_raised=raised,
    )
    duplicate.merged_into_id = master.id
    moved = {"photos": len(photos), "contacts": len(contacts), "order": order is not None}
    step.payload.update(master=master.number, **moved, cross_grid=record.cross_grid,
                        cross_class=record.cross_class)
    duplicate_event = step.finish()
    flag_modified(master, "state")
    master_event = _append_event(
        master, actor, "merge_in", master.state_enum, master.state_enum, step.now,
        note=step.reason or step.note,
        payload={"duplicate": duplicate.number, **moved, "repeat_count": master.repeat_count,
                 "urgency_raised": raised},
    )
    record.duplicate_event_id = duplicate_event.id
    record.master_event_id = master_event.id
    db.session.add(record)
    _flush()
    _add_co_reporters(duplicate, master, record)
    _flush()
    return record


@_service
def undo_merge(
    duplicate: Case, actor: User, *, now: datetime | None = None, expected_version: int | None = None
) -> CaseMerge:
    """Undo the merge of ``duplicate`` (the same local day): every moved row goes back, its state too."""
    step = _begin(duplicate, "unmerge", actor, expected_version, {}, now)
    record = active_merge(duplicate)
    master = record.master
    for model, ids in ((CasePhoto, record.moved_photo_ids), (HotlineContact, record.moved_contact_ids),
                       (HotlineOrder, [record.moved_order_id] if record.moved_order_id else [])):
        if ids:
            for row in db.session.scalars(select(model).where(model.id.in_(ids), model.case_id == master.id)):
                row.case_id = duplicate.id
    db.session.execute(delete(CaseReporter).where(CaseReporter.merge_id == record.id))
    master.repeat_count = max(0, master.repeat_count - record.repeat_added)
    if record.urgency_raised:
        master.urgency = "normal"
    step.restored = State(record.previous_state)
    duplicate.merged_into_id = None
    if step.restored in ASSIGNED_STATES:
        duplicate.assignee_id = grid_worker_id(duplicate)
    record.undone_at = step.now
    record.undone_by_id = actor.id
    moved = {"photos": len(record.moved_photo_ids), "contacts": len(record.moved_contact_ids),
             "order": record.moved_order_id is not None}
    step.payload.update(master=master.number, **moved)
    event = step.finish()
    flag_modified(master, "state")
    _append_event(master, actor, "merge_undone", master.state_enum, master.state_enum, step.now,
                  payload={"duplicate": duplicate.number, **moved, "repeat_count": master.repeat_count})
    record.undo_event_id = event.id
    _flush()
    return record
