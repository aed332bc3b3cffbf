"""Cases, their immutable event log, photos, pending requests and suspension intervals."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.cases.states import State
from gridops.db import utcnow
from gridops.extensions import db

SOURCES = ("patrol", "hotline", "public", "leader", "media", "video")
URGENCIES = ("normal", "urgent")
PHOTO_KINDS = ("near", "far", "after", "other")
REQUEST_KINDS = ("return", "extension", "suspension")
REQUEST_STATUSES = ("pending", "approved", "rejected")
#: Open cases, as literal SQL: the partial index below and the duplicate search share it verbatim,
#: so that both databases see the query's condition implies the index's.
OPEN_CASE_SQL = "state NOT IN ('closed', 'cancelled', 'merged')"


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Case(db.Model):
    """A problem in public space on its way from report to closure (案卷)."""

    __tablename__ = "case_file"
    __table_args__ = (
        CheckConstraint(_in("state", [s.value for s in State]), name="state"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint("datum IN ('wgs84', 'gcj02', 'bd09')", name="datum"),
        Index("ix_case_state_handle_due", "state", "handle_due_at"),
        Index("ix_case_area_path_state", "area_path", "state"),
        Index("ix_case_holder_state", "holder_department_id", "state"),
        Index("ix_case_class_reported", "small_class_id", "reported_at"),
        # Likely duplicates: open cases of a class in a band of latitude, then longitude.
        Index(
            "ix_case_open_class_position", "small_class_id", "layer_y", "layer_x",
            postgresql_where=text(OPEN_CASE_SQL), sqlite_where=text(OPEN_CASE_SQL),
        ),
        # Evaluation counts the cases of a period by each of these times.
        Index("ix_case_reported_at", "reported_at"),
        Index("ix_case_registered_at", "registered_at"),
        Index("ix_case_closed_at", "closed_at"),
        Index("ix_case_handle_due_at", "handle_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Human case number, YYYYMMDD + daily sequence: unique and sortable by date.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    #: Client-supplied key: the same report sent twice creates one case.
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    case_type: Mapped[str] = mapped_column(String(16))
    small_class_id: Mapped[int] = mapped_column(ForeignKey("small_class.id"))
    standard_id: Mapped[Optional[int]] = mapped_column(ForeignKey("filing_standard.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    urgency: Mapped[str] = mapped_column(String(8), default="normal")

    # Position as reported, and as located in the grid layer at filing.
    x: Mapped[Optional[float]] = mapped_column(Float)
    y: Mapped[Optional[float]] = mapped_column(Float)
    datum: Mapped[str] = mapped_column(String(8), default="wgs84")
    accuracy_m: Mapped[Optional[float]] = mapped_column(Float)
    layer_x: Mapped[Optional[float]] = mapped_column(Float)
    layer_y: Mapped[Optional[float]] = mapped_column(Float)
    layer_version: Mapped[Optional[int]]
    unit_grid_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"), index=True)
    #: Smallest located area (the unit grid, or an enclosing area in a coverage gap).
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"))
    area_path: Mapped[str] = mapped_column(String(255), default="/")
    located_in_gap: Mapped[bool] = mapped_column(default=False)

    reporter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: The grid worker who must act on site next (verification or check); None otherwise.
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: Located in an urban-rural fringe area at filing (its registration limit is the fringe one).
    in_fringe: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16))
    holder_department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    suggested_department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    supervised: Mapped[bool] = mapped_column(default=False)
    self_handled: Mapped[bool] = mapped_column(default=False)
    merged_into_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_file.id"))

    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[Optional[datetime]]
    dispatched_at: Mapped[Optional[datetime]]
    signed_at: Mapped[Optional[datetime]]
    handled_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    # Stage due times (computed by worktime; extensions move handle_due_at).
    register_due_at: Mapped[Optional[datetime]]
    dispatch_due_at: Mapped[Optional[datetime]]
    sign_due_at: Mapped[Optional[datetime]]
    handle_due_at: Mapped[Optional[datetime]]
    check_due_at: Mapped[Optional[datetime]]
    closed_on_time: Mapped[Optional[bool]]

    dispatch_count: Mapped[int] = mapped_column(default=0)
    return_count: Mapped[int] = mapped_column(default=0)
    rework_count: Mapped[int] = mapped_column(default=0)
    extension_count: Mapped[int] = mapped_column(default=0)
    repeat_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    small_class = relationship("SmallClass")
    standard = relationship("FilingStandard")
    unit_grid = relationship("Area", foreign_keys=[unit_grid_id])
    area = relationship("Area", foreign_keys=[area_id])
    reporter = relationship("User", foreign_keys=[reporter_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    holder_department = relationship("Department", foreign_keys=[holder_department_id])
    suggested_department = relationship("Department", foreign_keys=[suggested_department_id])
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", order_by="CaseEvent.id", viewonly=True
    )

    @property
    def state_enum(self) -> State:
        return State(self.state)


class CaseEvent(db.Model):
    """One step in a case's life: who, in which role, when, what, from → to, why. Never edited."""

    __tablename__ = "case_event"
    #: Evaluation counts a period's dispatches, returns and checks.
    __table_args__ = (Index("ix_case_event_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    actor_role: Mapped[Optional[str]] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[Optional[str]] = mapped_column(String(16))
    to_state: Mapped[Optional[str]] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[Optional[dict]] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="events")
    actor = relationship("User")
    photos: Mapped[list["CasePhoto"]] = relationship(back_populates="event", order_by="CasePhoto.id")


class CasePhoto(db.Model):
    """A photo attached at a step: stored re-encoded under the media folder, with a thumbnail."""

    __tablename__ = "case_photo"
    __table_args__ = (CheckConstraint(_in("kind", PHOTO_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="other")
    path: Mapped[str] = mapped_column(String(255))
    thumb_path: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))

    event: Mapped[Optional[CaseEvent]] = relationship(back_populates="photos")


class CaseRequest(db.Model):
    """A unit's request for return, extension or suspension, settled by a shift leader."""

    __tablename__ = "case_request"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text)
    requested_due_at: Mapped[Optional[datetime]]
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[Optional[datetime]]
    decision_note: Mapped[str] = mapped_column(Text, default="")


class CasePause(db.Model):
    """An interval during which the case's handling clock stood still (挂账)."""

    __tablename__ = "case_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[Optional[datetime]]


class CaseNumberCounter(db.Model):
    """Last case number handed out per local day, incremented atomically."""

    __tablename__ = "case_number_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CaseMerge(db.Model):
    """One merge (并单) of a duplicate into its master, with what moved, so an undo restores it exactly."""

    __tablename__ = "case_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    duplicate_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    master_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    merged_at: Mapped[datetime]
    merged_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    #: The duplicate's state before the merge: an undo returns it there.
    previous_state: Mapped[str] = mapped_column(String(16))
    cross_grid: Mapped[bool] = mapped_column(default=False)
    cross_class: Mapped[bool] = mapped_column(default=False)
    #: Ids of the photos and hotline contacts moved to the master, and of its hotline order if it moved too.
    moved_photo_ids: Mapped[list] = mapped_column(JSON, default=list)
    moved_contact_ids: Mapped[list] = mapped_column(JSON, default=list)
    moved_order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("hotline_order.id"))
    #: What the master's repeat count gained (the duplicate and its own repeats), and whether
    #: that made it urgent: an undo takes back exactly this.
    repeat_added: Mapped[int] = mapped_column(default=1)
    urgency_raised: Mapped[bool] = mapped_column(default=False)
    duplicate_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_event.id"))
    master_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_event.id"))
    undone_at: Mapped[Optional[datetime]]
    undone_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    undo_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_event.id"))

    duplicate: Mapped[Case] = relationship(foreign_keys=[duplicate_id])
    master: Mapped[Case] = relationship(foreign_keys=[master_id])
    merged_by = relationship("User", foreign_keys=[merged_by_id])


class CaseReporter(db.Model):
    """A co-reporter of a case: someone who reported a duplicate that was merged into it.

    They see the case as its own reporter does. ``merge_id`` is the merge that added the row,
    so undoing that merge removes exactly the rows it added.
    """

    __tablename__ = "case_reporter"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    merge_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_merge.id"))

    user = relationship("User")
