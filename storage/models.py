"""The plan's data as SQLAlchemy 2 mapped classes. Schema changes go through Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, ORMExecuteState, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.rules import Precision, Rag

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always handed back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime; pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=16)


class Role(enum.StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    MEMBER = "member"
    VIEWER = "viewer"
    REMOVED = "removed"  # no longer in the plan file (or erased): the row stays for the history, with no rights


class Source(enum.StrEnum):
    """Where an update came from."""

    IMPORT = "import"
    CHAT = "chat"
    DIALOG = "dialog"
    CARD = "card"
    CLI = "cli"


class Accepted(enum.StrEnum):
    """Where the business unit accepted a revised date."""

    TEAMS = "teams"
    CLI = "cli"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Partnership(Base):
    __tablename__ = "partnership"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(40), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    # The partnership's own case-id patterns (regular expressions), checked in every note: see bot.privacy.
    privacy_patterns: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    plans: Mapped[list[Plan]] = relationship(back_populates="partnership")


class Plan(Base):
    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("partnership_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)

    partnership: Mapped[Partnership] = relationship(back_populates="plans")


class Priority(Base):
    __tablename__ = "priority"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)


class Objective(Base):
    __tablename__ = "objective"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    priority_id: Mapped[int | None] = mapped_column(ForeignKey("priority.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("partnership_id", "email"),
        UniqueConstraint("partnership_id", "aad_object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    job_title: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "person_role"), default=Role.MEMBER)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    teams_user_id: Mapped[str | None] = mapped_column(String(200))
    upn: Mapped[str | None] = mapped_column(String(320))


class SubGroup(Base):
    __tablename__ = "subgroup"
    __table_args__ = (UniqueConstraint("partnership_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id", ondelete="SET NULL"))


class Membership(Base):
    """A person's membership of a sub-group; members (and the chair) may update its actions."""

    __tablename__ = "membership"

    subgroup_id: Mapped[int] = mapped_column(ForeignKey("subgroup.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)


class Action(Base):
    __tablename__ = "action"
    __table_args__ = (UniqueConstraint("plan_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objective.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    success_measure: Mapped[str] = mapped_column(Text, default="")
    reporting_body: Mapped[str | None] = mapped_column(String(40))
    lead_text: Mapped[str | None] = mapped_column(String(200))
    lead_subgroup_id: Mapped[int | None] = mapped_column(ForeignKey("subgroup.id", ondelete="SET NULL"), index=True)
    lead_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    milestones: Mapped[list[Milestone]] = relationship(
        order_by="Milestone.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Milestone(Base):
    """A due point of an action. `label` is the success-measure line it belongs to, when there are several."""

    __tablename__ = "milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    precision: Mapped[Precision] = mapped_column(_enum(Precision, "due_precision"))
    label: Mapped[str | None] = mapped_column(Text)


class Update(Base):
    """One progress note with a RAG rating. Append-only: the history is the audit trail.

    A withdrawal is an update of its own that names the update it withdraws (`withdraws_id`).
    """

    __tablename__ = "progress_update"
    __table_args__ = (
        Index("ix_progress_update_action_latest", "action_id", "created_at", "id"),
        # Teams may deliver one activity twice: it stores one update.
        UniqueConstraint("conversation_id", "activity_id", name="uq_progress_update_delivery"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"))
    rag: Mapped[Rag | None] = mapped_column(_enum(Rag, "rag"))
    comment: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    author_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[Source] = mapped_column(_enum(Source, "update_source"))
    activity_id: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    revised_due_on: Mapped[date | None] = mapped_column(Date)
    revised_precision: Mapped[Precision | None] = mapped_column(_enum(Precision, "revised_precision"))
    withdraws_id: Mapped[int | None] = mapped_column(ForeignKey("progress_update.id"))


class MilestoneRevision(Base):
    """A revised date proposed in an update and accepted by the business unit (append-only).

    It replaces the milestone originally due on `replaces_on`; the plan's milestones are kept as written.
    """

    __tablename__ = "milestone_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("progress_update.id"), unique=True)
    replaces_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    precision: Mapped[Precision] = mapped_column(_enum(Precision, "revision_precision"))
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    accepted_by_name: Mapped[str] = mapped_column(String(200))
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[Accepted] = mapped_column(_enum(Accepted, "revision_source"))


class Meeting(Base):
    """A dated Business Management Group meeting."""

    __tablename__ = "bmg_meeting"
    __table_args__ = (UniqueConstraint("partnership_id", "meets_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    meets_on: Mapped[date] = mapped_column(Date)


class ConversationKind(enum.StrEnum):
    PERSONAL = "personal"
    CHANNEL = "channel"
    GROUP_CHAT = "groupChat"


class Conversation(Base):
    """Where the bot can write later (proactively): stored when it is installed or a channel appears.

    `removed_at` is set when the bot is removed or the channel deleted; the row stays as a record.
    """

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[ConversationKind] = mapped_column(_enum(ConversationKind, "conversation_kind"))
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    service_url: Mapped[str] = mapped_column(String(512))
    bot_id: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(512), index=True)
    team_aad_group_id: Mapped[str | None] = mapped_column(String(64))
    team_name: Mapped[str | None] = mapped_column(String(300))
    channel_id: Mapped[str | None] = mapped_column(String(512))
    channel_name: Mapped[str | None] = mapped_column(String(300))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(200))
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BotState(Base):
    """Bot Framework turn state (dialog and conversation state), one JSON document per key, with an e-tag."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DispatchKind(enum.StrEnum):
    NUDGE = "nudge"
    FINAL_NUDGE = "final_nudge"
    SUMMARY = "summary"
    EXCEPTIONS = "exceptions"


class DispatchStatus(enum.StrEnum):
    """claimed: someone will send it; sending: the send has started; sent; failed (known not to
    have arrived); unknown (the send may have arrived: never repeated blindly); skipped (snoozed)."""

    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


class Dispatch(Base):
    """One message the scheduler owes for one BMG meeting: claimed in the database before it is sent,
    so that replicas, restarts and a cron run beside the server send it once."""

    __tablename__ = "dispatch"
    __table_args__ = (UniqueConstraint("partnership_id", "meeting_on", "kind", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    meeting_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[DispatchKind] = mapped_column(_enum(DispatchKind, "dispatch_kind"))
    target: Mapped[str] = mapped_column(String(100))
    status: Mapped[DispatchStatus] = mapped_column(_enum(DispatchStatus, "dispatch_status"))
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")


class AuditKind(enum.StrEnum):
    """What an administrative change was."""

    IMPORT = "import"
    MEETING_ADDED = "meeting_added"
    MEETING_REMOVED = "meeting_removed"
    CHANNEL_LINKED = "channel_linked"
    ROLE_CHANGED = "role_changed"
    PERSON_ADDED = "person_added"
    PERSON_REMOVED = "person_removed"
    NOTE_REDACTED = "note_redacted"
    NOTE_CLEARED = "note_cleared"
    PERSON_ERASED = "person_erased"
    RETENTION_RUN = "retention_run"
    DATE_ACCEPTED = "date_accepted"


class AuditEvent(Base):
    """One administrative change: who, when, what, in which partnership (append-only).

    `actor_name` is the person's name, or "planbot CLI (<os user>)" for the command line. A change made
    in Teams keeps the activity that made it, so that the same activity delivered twice changes things once.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_partnership_at", "partnership_id", "at", "id"),
        UniqueConstraint("conversation_id", "activity_id", name="uq_audit_event_delivery"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[AuditKind] = mapped_column(_enum(AuditKind, "audit_kind"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    activity_id: Mapped[str | None] = mapped_column(String(200))


REDACTED_NOTE = "[note redacted]"
RETENTION_NOTE = "[note removed under the retention policy]"
FORMER_STAFF = "a former member of staff"


class ReviewKind(enum.StrEnum):
    REDACTED = "redacted"  # the note's text was replaced; the update stays
    CLEARED = "cleared"  # the business unit checked the note: shown as written on the way out


class NoteReview(Base):
    """A decision about one update's note: redacted (its text replaced) or cleared (append-only)."""

    __tablename__ = "note_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("progress_update.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ReviewKind] = mapped_column(_enum(ReviewKind, "review_kind"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    by_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)


class DataVersion(Base):
    """One row: an epoch that tells one database from another, and a version that database triggers
    bump when a partnership itself changes (its tenant, its time zone) or a written row's partnership
    cannot be found. With the partnership's `PlanVersion`, the stamp a snapshot of its plan is good
    for. Derived: not backed up."""

    __tablename__ = "data_version"
    __table_args__ = {"info": {"derived": True}}  # noqa: RUF012 - SQLAlchemy's own form

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger)


class PlanVersion(Base):
    """A version per partnership that database triggers bump on every write to its plan, people,
    sub-groups or meetings (so every way of writing counts, on every replica). Derived: not backed up."""

    __tablename__ = "plan_version"
    __table_args__ = {"info": {"derived": True}}  # noqa: RUF012 - SQLAlchemy's own form

    partnership_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class AppendOnlyError(RuntimeError):
    pass


class Rewrite(enum.StrEnum):
    """The only changes ever made to append-only rows, each by one repository method that names it."""

    REDACTION = "redaction"  # a note's text replaced (by a person, or the retention policy)
    ERASURE = "erasure"  # an erased person's name and addresses replaced wherever they were copied


REWRITE_OPTION = "append_only_rewrite"
APPEND_ONLY = {"progress_update", "milestone_revision", "audit_event", "note_review"}
REWRITABLE: dict[tuple[str, Rewrite], frozenset[str]] = {
    ("progress_update", Rewrite.REDACTION): frozenset({"comment"}),
    ("progress_update", Rewrite.ERASURE): frozenset({"comment", "author_name"}),
    ("milestone_revision", Rewrite.ERASURE): frozenset({"accepted_by_name"}),
    ("note_review", Rewrite.ERASURE): frozenset({"by_name", "reason"}),
    ("audit_event", Rewrite.ERASURE): frozenset({"actor_name", "summary", "detail"}),
}


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_rewrite(state: ORMExecuteState) -> None:
    """UPDATE and DELETE statements on append-only tables: refused, but for the rewrites named above."""
    if not (state.is_update or state.is_delete):
        return
    tables = {m.local_table.name for m in state.all_mappers} & APPEND_ONLY  # type: ignore[attr-defined]
    if not tables:
        return
    reason = state.execution_options.get(REWRITE_OPTION)
    values = getattr(state.statement, "_values", None) or {}
    columns = {getattr(c, "key", str(c)) for c in values}
    for table in tables:
        allowed = REWRITABLE.get((table, Rewrite(reason))) if reason in set(Rewrite) else None
        if state.is_delete or allowed is None or not columns or not columns <= allowed:
            raise AppendOnlyError(f"{table} rows are never edited or deleted (only a named rewrite may change them)")


@event.listens_for(Update, "before_update")
@event.listens_for(Update, "before_delete")
def _refuse_rewrite(mapper: Mapper[Any], connection: Any, target: Update) -> None:
    raise AppendOnlyError("progress updates are never edited or deleted; add a withdrawal instead")


@event.listens_for(MilestoneRevision, "before_update")
@event.listens_for(MilestoneRevision, "before_delete")
def _refuse_revision_rewrite(mapper: Mapper[Any], connection: Any, target: MilestoneRevision) -> None:
    raise AppendOnlyError("accepted revisions are never edited or deleted; accept a newer proposal instead")


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
@event.listens_for(NoteReview, "before_update")
@event.listens_for(NoteReview, "before_delete")
def _refuse_record_rewrite(mapper: Mapper[Any], connection: Any, target: AuditEvent | NoteReview) -> None:
    raise AppendOnlyError("the audit log and note reviews are never edited or deleted")
