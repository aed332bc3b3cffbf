"""Tables of the hotline package: callers' contacts, one order per hotline case, places, views of caller data."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridops.db import utcnow
from gridops.extensions import db

#: How a citizen reached the hotline.
CHANNELS = ("phone", "web", "wechat", "sms", "app", "email", "letter", "visit")
#: Reply limit kinds (domain.md §8): emergency 2 h, water/power/gas/heat 24 h, general 7 d, complex 15 d.
REPLY_LIMIT_KINDS = ("emergency", "utility", "general", "complex")
SATISFACTIONS = ("satisfied", "basically_satisfied", "dissatisfied")
#: How the complaint's position was found: a map click or given coordinates, a gazetteer place,
#: or only an area (its centre stands in, and the order is flagged unlocated for the intake operator).
LOCATED_BY = ("point", "place", "area")
PLACE_KINDS = ("road", "landmark", "building", "bridge", "park", "other")
#: What started a purge of callers' personal data: the daily job or ``gridops caller-data purge``.
PURGE_ORIGINS = ("scheduler", "command")


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class HotlineContact(db.Model):
    """One call or message from a citizen about a case (来电/来件); a case may hold many."""

    __tablename__ = "hotline_contact"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        Index("ix_hotline_contact_phone_at", "phone", "contacted_at"),
        # The retention purge walks the contacts it has not erased yet, oldest first.
        Index(
            "ix_hotline_contact_unerased_at", "contacted_at", "id",
            postgresql_where=text("erased_at IS NULL"), sqlite_where=text("erased_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The case the contact is about; merging cases moves contacts by changing it.
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    caller_name: Mapped[str] = mapped_column(String(64), default="")
    #: E.164 (+86…), so that the same caller's earlier contacts are found whatever was typed.
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    contacted_at: Mapped[datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    consent_callback: Mapped[bool] = mapped_column(default=True)
    #: True when the contact repeated a complaint already on file (重复诉求).
    repeat: Mapped[bool] = mapped_column(default=False)
    #: When the retention purge erased the caller's name, phone and words (all three then empty);
    #: channel, times, operator and flags stay for the statistics.
    erased_at: Mapped[Optional[datetime]]

    case = relationship("Case")
    operator = relationship("User")

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


class HotlineOrder(db.Model):
    """The hotline's work order for a case (工单): reply and follow-up clocks, satisfaction, ownership."""

    __tablename__ = "hotline_order"
    __table_args__ = (
        CheckConstraint(_in("reply_limit_kind", REPLY_LIMIT_KINDS), name="reply_limit_kind"),
        CheckConstraint("satisfaction IS NULL OR " + _in("satisfaction", SATISFACTIONS), name="satisfaction"),
        CheckConstraint(_in("located_by", LOCATED_BY), name="located_by"),
        Index("ix_hotline_order_reply_due", "replied_at", "reply_due_at"),
        Index("ix_hotline_order_followup_due", "followed_up_at", "followup_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    reply_limit_kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: 答复: the caller must hear back by this time; reset when a dissatisfied follow-up reopens the case.
    reply_due_at: Mapped[datetime]
    replied_at: Mapped[Optional[datetime]]
    replied_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    reply_note: Mapped[str] = mapped_column(Text, default="")
    #: 回访: due once the case is closed and the caller has been answered.
    followup_due_at: Mapped[Optional[datetime]]
    followed_up_at: Mapped[Optional[datetime]]
    followed_up_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
    followup_note: Mapped[str] = mapped_column(Text, default="")
    #: The latest follow-up's answer (satisfied / basically_satisfied / dissatisfied).
    satisfaction: Mapped[Optional[str]] = mapped_column(String(24))
    #: How many dissatisfied follow-ups reopened the case (重办).
    reopen_count: Mapped[int] = mapped_column(default=0)
    #: 属地兜底: no clear owner, so the district of the place is responsible by default.
    territorial_fallback: Mapped[bool] = mapped_column(default=False)
    located_by: Mapped[str] = mapped_column(String(8), default="point")
    #: The gazetteer place the operator picked, if any.
    place_id: Mapped[Optional[int]] = mapped_column(ForeignKey("gazetteer_place.id"))

    case = relationship("Case")
    place = relationship("GazetteerPlace")

    @property
    def unlocated(self) -> bool:
        """Only an area was known: the intake operator must find the place before registering."""
        return self.located_by == "area"


class GazetteerPlace(db.Model):
    """A named road or landmark that callers name instead of giving a position (地名地址库)."""

    __tablename__ = "gazetteer_place"
    __table_args__ = (
        CheckConstraint(_in("kind", PLACE_KINDS), name="kind"),
        CheckConstraint("datum IN ('wgs84', 'gcj02', 'bd09')", name="datum"),
        UniqueConstraint("kind", "name", "area_id", name="uq_gazetteer_place_kind_name_area"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    name_en: Mapped[Optional[str]] = mapped_column(String(128))
    #: Other names callers use ("老火车站"), separated by "|".
    aliases: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    #: The place's point (a line's middle point) in ``datum``, as the import gave it.
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    datum: Mapped[str] = mapped_column(String(8))
    #: The whole geometry (a road's line) as WKB in ``datum``; None for a point.
    geometry_wkb: Mapped[Optional[bytes]] = mapped_column(LargeBinary, deferred=True)
    #: Where the point was located at import: the unit grid, or the smallest enclosing area.
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    unit_grid_id: Mapped[Optional[int]] = mapped_column(ForeignKey("area.id"))
    active: Mapped[bool] = mapped_column(default=True)
    source_name: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))

    area = relationship("Area", foreign_keys=[area_id])
    unit_grid = relationship("Area", foreign_keys=[unit_grid_id])

    def display_name(self, locale: str) -> str:
        return (self.name_en or self.name) if locale == "en" else self.name


class CallerDataView(db.Model):
    """A record that someone saw a caller's unmasked name and phone: who, when, which case, where."""

    __tablename__ = "caller_data_view"
    __table_args__ = (
        Index("ix_caller_data_view_case_at", "case_id", "viewed_at"),
        # The audit page: newest first, and a phone's lookups.
        Index("ix_caller_data_view_viewed_at", "viewed_at"),
        Index("ix_caller_data_view_phone_at", "phone", "viewed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    #: The user's role when they saw it (roles change; the audit needs the one that allowed it).
    user_role: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("case_file.id"))
    #: Where it was shown: "order_page", "api:order", "api:caller", … (``audit.CONTEXT_LABELS``).
    context: Mapped[str] = mapped_column(String(32))
    #: The phone (E.164) looked up, for a search by phone that found no case; None on the rows of
    #: cases, and once the retention purge has erased the number (a row with neither case nor phone).
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)

    user = relationship("User")
    case = relationship("Case")


class CallerDataPurge(db.Model):
    """One run of the retention purge: when, under which period, and how much it erased.

    A run commits batch by batch; ``finished_at`` stays empty when it stopped part-way (the
    next run finishes the work: erasing is idempotent).
    """

    __tablename__ = "caller_data_purge"
    __table_args__ = (
        CheckConstraint(_in("origin", PURGE_ORIGINS), name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[Optional[datetime]]
    origin: Mapped[str] = mapped_column(String(16))
    retention_days: Mapped[int]
    #: Callers whose last finished case had its last step before this instant were erased.
    cutoff_at: Mapped[datetime]
    #: Distinct phone numbers whose contacts were erased.
    callers: Mapped[int] = mapped_column(default=0)
    contacts: Mapped[int] = mapped_column(default=0)
    #: Rows of the unmasked-view log that lost their phone number.
    views: Mapped[int] = mapped_column(default=0)
    batches: Mapped[int] = mapped_column(default=0)
