"""Retention of callers' personal data: erase it once the caller's last case has been finished long enough.

China's Personal Information Protection Law keeps personal data no longer than its purpose
needs. A caller is a phone number. Its contacts are erased — name, phone and the caller's own
words emptied, ``erased_at`` set — once every case the number called about is finished (closed
or cancelled) and nothing has happened on any of them (no step, reply, follow-up call or repeat
complaint: the case's last event) for the city's retention period (``settings.retention_days``).
One open or recently finished case keeps all of the number's contacts: its order still needs
the caller, and the desk shows the caller's earlier contacts beside it.

The caller's name and number are also taken out of the free texts of their cases, which are
kept as the cases' record: the description (the first caller's words), the order's reply and
follow-up notes, the events' notes (``privacy.scrub_caller``). The unmasked-view log
(``CallerDataView``) loses the phone of every erased number, and of lookups older than the
period whose number no kept contact holds. Kept, so that every figure stays as it was: the
contacts' channel, times, operator and flags; the cases, the orders with their clocks and
answers, the log's who, when and where.

Work goes in batches of contacts, oldest first; ``after_batch`` (the job and the command pass
``db.session.commit``) ends each batch's transaction, so a large backlog never holds locks for
long. On PostgreSQL a batch locks the contacts it erases in (phone, id) order, so two purges
running at once wait for each other batch by batch and never deadlock; erasing is conditional
on ``erased_at IS NULL``, so nothing is erased or counted twice. A dry run reads the same
batches and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update

from gridops.cases.models import Case, CaseEvent
from gridops.db import dialect_name
from gridops.extensions import db
from gridops.hotline.models import CallerDataPurge, CallerDataView, HotlineContact, HotlineOrder
from gridops.hotline.privacy import scrub_caller
from gridops.hotline.services import FINISHED_STATES
from gridops.hotline.settings import retention_days

BATCH_SIZE = 500


@dataclass
class PurgeResult:
    """What a purge erased (or, in a dry run, would erase)."""

    retention_days: int
    cutoff_at: datetime
    dry_run: bool
    callers: int = 0
    contacts: int = 0
    views: int = 0
    batches: int = 0
    run_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "retention_days": self.retention_days, "cutoff_at": self.cutoff_at.isoformat(), "dry_run": self.dry_run,
            "callers": self.callers, "contacts": self.contacts, "views": self.views, "batches": self.batches,
            "run_id": self.run_id,
        }


def purge_cutoff(now: datetime, days: int) -> datetime:
    """Callers whose cases have all been finished, with no step since before this instant, are erased."""
    return now - timedelta(days=days)


def _kept_phones(phones, cutoff: datetime) -> set[str]:
    """The numbers among ``phones`` with a contact on a case still open, or finished too recently."""
    last_step = select(func.max(CaseEvent.at)).where(CaseEvent.case_id == Case.id).scalar_subquery()
    stmt = (
        select(HotlineContact.phone)
        .join(Case, Case.id == HotlineContact.case_id)
        .where(
            HotlineContact.phone.in_(phones),
            HotlineContact.erased_at.is_(None),
            or_(Case.state.not_in(sorted(FINISHED_STATES)), func.coalesce(last_step, Case.reported_at) >= cutoff),
        )
        .distinct()
    )
    return set(db.session.scalars(stmt))


def _contact_window(cutoff: datetime, after: tuple[datetime, int] | None, size: int):
    """The next ``size`` contacts not yet erased and made before ``cutoff``, oldest first."""
    contact = HotlineContact
    stmt = select(contact.id, contact.contacted_at, contact.phone).where(
        contact.erased_at.is_(None), contact.contacted_at < cutoff
    )
    if after is not None:
        stmt = stmt.where(
            or_(contact.contacted_at > after[0], and_(contact.contacted_at == after[0], contact.id > after[1]))
        )
    return db.session.execute(stmt.order_by(contact.contacted_at, contact.id).limit(size)).all()


def _lookup_window(cutoff: datetime, after: str | None, size: int) -> list[str]:
    """The next ``size`` numbers that lookups older than ``cutoff`` recorded in the view log."""
    view = CallerDataView
    stmt = select(view.phone).where(view.phone.is_not(None), view.viewed_at < cutoff)
    if after is not None:
        stmt = stmt.where(view.phone > after)
    return list(db.session.scalars(stmt.group_by(view.phone).order_by(view.phone).limit(size)))


def _seen_before(phones: list[str], first) -> set[str]:
    """The numbers among ``phones`` with a contact not yet erased before the window starting at ``first``."""
    contact = HotlineContact
    return set(db.session.scalars(
        select(contact.phone)
        .where(
            contact.phone.in_(phones), contact.erased_at.is_(None),
            or_(contact.contacted_at < first.contacted_at,
                and_(contact.contacted_at == first.contacted_at, contact.id < first.id)),
        )
        .distinct()
    ))


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def _scrub_texts(callers: dict[int, set[tuple[str, str]]]) -> None:
    """Take the callers' names and numbers out of the free texts of their cases.

    ``callers``: case id → (name, phone) of each contact erased on it. A case keeps its
    description (the first caller's words), its order's notes and its events' notes, as its
    record; only the identifiers in them are replaced. A duplicate merged into the case had the
    same callers (its contacts moved), so its texts are scrubbed alike.
    """
    merged = db.session.execute(
        select(Case.id, Case.merged_into_id).where(Case.merged_into_id.in_(list(callers)))
    ).all()
    for case_id, master_id in merged:
        callers.setdefault(case_id, set()).update(callers[master_id])

    def scrub(table, key, columns) -> None:
        changes = []
        for row in db.session.execute(select(table.c.id, key, *columns).where(key.in_(list(callers)))):
            names = [name for name, _phone in callers[row[1]]]
            phones = [phone for _name, phone in callers[row[1]]]
            values = {column.key: scrub_caller(row._mapping[column.key], names, phones) for column in columns}
            if any(values[column.key] != row._mapping[column.key] for column in columns):
                changes.append({"row_id": row.id, **{f"new_{name}": value for name, value in values.items()}})
        if changes:
            db.session.execute(
                update(table).where(table.c.id == bindparam("row_id"))
                .values({column.key: bindparam(f"new_{column.key}") for column in columns}),
                changes, execution_options={"synchronize_session": False},
            )

    scrub(Case.__table__, Case.__table__.c.id, [Case.__table__.c.description])
    scrub(HotlineOrder.__table__, HotlineOrder.__table__.c.case_id,
          [HotlineOrder.__table__.c.reply_note, HotlineOrder.__table__.c.followup_note])
    scrub(CaseEvent.__table__, CaseEvent.__table__.c.case_id, [CaseEvent.__table__.c.note])


def _erase_contacts(phones: list[str], cutoff: datetime, now: datetime) -> tuple[set[str], int]:
    """Erase the contacts of ``phones`` and their identifiers in their cases' texts; (numbers erased, contacts)."""
    contact = HotlineContact
    stmt = (
        select(contact.id, contact.phone, contact.caller_name, contact.case_id)
        .where(contact.phone.in_(phones), contact.erased_at.is_(None))
        .order_by(contact.phone, contact.id)
    )
    if dialect_name() == "postgresql":
        stmt = stmt.with_for_update()
    locked = db.session.execute(stmt).all()
    # A call from one of the numbers may have come in since they were chosen: it keeps its number.
    kept = _kept_phones(phones, cutoff)
    erasing = [row for row in locked if row.phone not in kept]
    if not erasing:
        return set(), 0
    erased = db.session.execute(
        update(contact)
        .where(contact.id.in_([row.id for row in erasing]), contact.erased_at.is_(None))
        .values(caller_name="", phone="", content="", erased_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    callers: dict[int, set[tuple[str, str]]] = {}
    for row in erasing:
        callers.setdefault(row.case_id, set()).add((row.caller_name, row.phone))
    _scrub_texts(callers)
    return {row.phone for row in erasing}, erased


def _forget_phones(phones, *, before: datetime | None = None) -> int:
    """Take ``phones`` out of the view log (only rows older than ``before`` when given); how many rows."""
    if not phones:
        return 0
    condition = [CallerDataView.phone.in_(sorted(phones))]
    if before is not None:
        condition.append(CallerDataView.viewed_at < before)
    if dialect_name() == "postgresql":
        # Rows locked in id order, as a concurrent purge would lock them: no deadlock.
        ids = list(db.session.scalars(
            select(CallerDataView.id).where(*condition).order_by(CallerDataView.id).with_for_update()
        ))
        condition = [CallerDataView.id.in_(ids), CallerDataView.phone.is_not(None)]
    return db.session.execute(
        update(CallerDataView).where(*condition).values(phone=None).execution_options(synchronize_session=False)
    ).rowcount


def purge_caller_data(
    now: datetime,
    *,
    dry_run: bool = False,
    origin: str = "command",
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[], None] | None = None,
) -> PurgeResult:
    """Erase the personal data of callers whose cases have all been finished longer than the retention period.

    Records the run (``CallerDataPurge``) unless ``dry_run``, which only counts. ``after_batch``
    runs after each batch's changes (and the run's counts) are flushed.
    """
    started = time.monotonic()
    days = retention_days()
    cutoff = purge_cutoff(now, days)
    result = PurgeResult(days, cutoff, dry_run)
    run = None
    if not dry_run:
        run = CallerDataPurge(started_at=now, origin=origin, retention_days=days, cutoff_at=cutoff)
        db.session.add(run)
        db.session.flush()
        result.run_id = run.id

    def batch_done() -> None:
        result.batches += 1
        if run is not None:
            run.callers, run.contacts, run.views = result.callers, result.contacts, result.views
            run.batches = result.batches
            db.session.flush()
            if after_batch is not None:
                after_batch()

    after = None
    while rows := _contact_window(cutoff, after, batch_size):
        after = (rows[-1].contacted_at, rows[-1].id)
        phones = sorted({row.phone for row in rows})
        kept = _kept_phones(phones, cutoff)
        erasable = [phone for phone in phones if phone not in kept]
        if erasable and dry_run:
            # Nothing is erased, so a number comes back in each window holding one of its contacts:
            # count its contacts window by window, and the number (and its log rows) in its first.
            new = [phone for phone in erasable if phone not in _seen_before(erasable, rows[0])]
            result.callers += len(new)
            result.contacts += sum(1 for row in rows if row.phone not in kept)
            result.views += _count(select(CallerDataView.id).where(CallerDataView.phone.in_(new))) if new else 0
        elif erasable:
            erased, count = _erase_contacts(erasable, cutoff, now)
            result.callers += len(erased)
            result.contacts += count
            result.views += _forget_phones(erased)
        batch_done()

    # Lookups that found nobody, or whose caller's contacts are gone: their number goes once old enough.
    last_phone = None
    while phones := _lookup_window(cutoff, last_phone, batch_size):
        last_phone = phones[-1]
        held = set(db.session.scalars(
            select(HotlineContact.phone).where(HotlineContact.phone.in_(phones), HotlineContact.erased_at.is_(None))
            .distinct()
        ))
        orphans = [phone for phone in phones if phone not in held]
        if orphans and dry_run:
            result.views += _count(
                select(CallerDataView.id).where(CallerDataView.phone.in_(orphans), CallerDataView.viewed_at < cutoff)
            )
        elif orphans:
            result.views += _forget_phones(orphans, before=cutoff)
        batch_done()

    if run is not None:
        run.finished_at = now + timedelta(seconds=time.monotonic() - started)
        db.session.flush()
    return result


def purge_runs(limit: int = 30) -> list[CallerDataPurge]:
    """The latest purge runs, newest first."""
    return list(db.session.scalars(
        select(CallerDataPurge).order_by(CallerDataPurge.started_at.desc(), CallerDataPurge.id.desc()).limit(limit)
    ))
