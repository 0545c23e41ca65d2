"""Repositories: every query the bot and the CLI make lives here, over async sessions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select, update
from sqlalchemy import update as update_statement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Due, Revision, UpdateFacts, current_update
from storage.audit import Actor, AuditRepository
from storage.errors import NotFoundError
from storage.models import (
    Action,
    AuditKind,
    Conversation,
    ConversationKind,
    Dispatch,
    DispatchKind,
    DispatchStatus,
    Meeting,
    Membership,
    Milestone,
    MilestoneRevision,
    NoteReview,
    Objective,
    Partnership,
    Person,
    Plan,
    Priority,
    ReviewKind,
    Rewrite,
    Role,
    SubGroup,
    Update,
)


def facts(update: Update) -> UpdateFacts:
    return UpdateFacts(id=update.id, at=update.created_at, rag=update.rag, withdraws=update.withdraws_id)


def dues(action: Action) -> list[Due]:
    return [Due(m.due_on, m.precision) for m in action.milestones]


class ActionRow(NamedTuple):
    """An action as a snapshot reads it: its columns, and its milestones as the plan gives them, as a
    plain row. A council-wide plan's 3,000 actions and their 6,000 milestones, as ORM objects, took a
    third of the time to read the plan and most of the memory that reading it took while it lasted."""

    id: int
    ref: str
    description: str
    success_measure: str
    objective_id: int
    lead_subgroup_id: int | None
    lead_person_id: int | None
    lead_text: str | None
    dues: tuple[Due, ...]


_ACTION_COLUMNS = (
    Action.id,
    Action.ref,
    Action.description,
    Action.success_measure,
    Action.objective_id,
    Action.lead_subgroup_id,
    Action.lead_person_id,
    Action.lead_text,
)


class PartnershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[Partnership]:
        return list(await self.session.scalars(select(Partnership).order_by(Partnership.short_name)))

    async def find(self, short_name: str) -> Partnership | None:
        return await self.session.scalar(
            select(Partnership).where(func.lower(Partnership.short_name) == short_name.lower())
        )

    async def by_short_name(self, short_name: str) -> Partnership:
        found = await self.find(short_name)
        if found is None:
            known = ", ".join(p.short_name for p in await self.all()) or "none yet"
            raise NotFoundError(f"no partnership called '{short_name}' (known: {known})")
        return found

    async def by_tenant(self, tenant_id: str) -> Partnership | None:
        return await self.session.scalar(select(Partnership).where(Partnership.tenant_id == tenant_id))


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, partnership: Partnership) -> Plan:
        """The partnership's plan in force: the one that starts latest."""
        plan = await self.session.scalar(
            select(Plan)
            .where(Plan.partnership_id == partnership.id)
            .order_by(Plan.starts_on.desc().nulls_last(), Plan.id.desc())
            .limit(1)
        )
        if plan is None:
            raise NotFoundError(f"{partnership.short_name} has no plan yet; import one first")
        return plan

    async def by_title(self, partnership: Partnership, title: str) -> Plan:
        plan = await self.session.scalar(
            select(Plan).where(Plan.partnership_id == partnership.id, func.lower(Plan.title) == title.lower())
        )
        if plan is None:
            raise NotFoundError(f"{partnership.short_name} has no plan called '{title}'")
        return plan

    async def priorities(self, plan: Plan) -> list[Priority]:
        return list(
            await self.session.scalars(select(Priority).where(Priority.plan_id == plan.id).order_by(Priority.number))
        )

    async def objectives(self, plan: Plan) -> list[Objective]:
        return list(
            await self.session.scalars(select(Objective).where(Objective.plan_id == plan.id).order_by(Objective.number))
        )

    async def actions(self, plan: Plan) -> list[Action]:
        """The plan's live actions in plan order (objective number, then position)."""
        return list(
            await self.session.scalars(
                select(Action)
                .join(Objective, Action.objective_id == Objective.id)
                .where(Action.plan_id == plan.id, Action.archived.is_(False))
                .order_by(Objective.number, Action.position)
            )
        )

    async def action_rows(self, plan: Plan | None = None, ids: Iterable[int] | None = None) -> list[ActionRow]:
        """The plan's live actions (or, given `ids`, those actions, archived or not) in plan order, as rows
        with their milestones; two queries, whatever their number."""
        where = (
            [Action.plan_id == plan.id, Action.archived.is_(False)]
            if plan is not None
            else [Action.id.in_(list(ids or ()))]
        )
        found: dict[int, list[Due]] = {}
        for action_id, due_on, precision in await self.session.execute(
            select(Milestone.action_id, Milestone.due_on, Milestone.precision)
            .join(Action, Milestone.action_id == Action.id)
            .where(*where)
            .order_by(Milestone.action_id, Milestone.position)
        ):
            found.setdefault(action_id, []).append(Due(due_on, precision))
        rows = await self.session.execute(
            select(*_ACTION_COLUMNS)
            .join(Objective, Action.objective_id == Objective.id)
            .where(*where)
            .order_by(Objective.number, Action.position)
        )
        return [ActionRow(*row, dues=tuple(found.get(row[0], ()))) for row in rows]

    async def objective_titles(self, plan: Plan) -> dict[int, str]:
        """Each objective's title, by id."""
        rows = await self.session.execute(select(Objective.id, Objective.title).where(Objective.plan_id == plan.id))
        return {objective_id: title for objective_id, title in rows}

    async def action(self, plan: Plan, ref: str) -> Action | None:
        return await self.session.scalar(select(Action).where(Action.plan_id == plan.id, Action.ref == ref))

    async def actions_for_subgroups(self, plan: Plan, subgroup_ids: Iterable[int]) -> list[Action]:
        return [a for a in await self.actions(plan) if a.lead_subgroup_id in set(subgroup_ids)]

    async def actions_led_by(self, plan: Plan, person: Person) -> list[Action]:
        """Actions the person leads directly, or through a sub-group they chair or belong to."""
        groups = (
            select(Membership.subgroup_id)
            .where(Membership.person_id == person.id)
            .union(select(SubGroup.id).where(SubGroup.chair_id == person.id))
        )
        return list(
            await self.session.scalars(
                select(Action)
                .join(Objective, Action.objective_id == Objective.id)
                .where(
                    Action.plan_id == plan.id,
                    Action.archived.is_(False),
                    or_(Action.lead_person_id == person.id, Action.lead_subgroup_id.in_(groups)),
                )
                .order_by(Objective.number, Action.position)
            )
        )

    async def actions_due_between(self, plan: Plan, first: date, last: date) -> list[Action]:
        """Actions with a milestone due from `first` to `last`, both included."""
        due = select(Milestone.action_id).where(Milestone.due_on.between(first, last))
        return [a for a in await self.actions(plan) if a.id in set(await self.session.scalars(due))]


class PeopleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def subgroups(self, partnership: Partnership) -> list[SubGroup]:
        return list(
            await self.session.scalars(
                select(SubGroup).where(SubGroup.partnership_id == partnership.id).order_by(SubGroup.name)
            )
        )

    async def people(self, partnership: Partnership) -> list[Person]:
        return list(
            await self.session.scalars(
                select(Person).where(Person.partnership_id == partnership.id).order_by(Person.name)
            )
        )

    async def by_aad_object_id(self, partnership: Partnership, aad_object_id: str) -> Person | None:
        return await self.session.scalar(
            select(Person).where(
                Person.partnership_id == partnership.id,
                Person.aad_object_id == aad_object_id,
                Person.role != Role.REMOVED,
            )
        )

    async def by_address(self, partnership: Partnership, *addresses: str | None) -> Person | None:
        """The person whose email or UPN is one of `addresses` (case does not matter); never a removed one."""
        wanted = [a.lower() for a in addresses if a]
        if not wanted:
            return None
        return await self.session.scalar(
            select(Person)
            .where(
                Person.partnership_id == partnership.id,
                Person.role != Role.REMOVED,
                or_(func.lower(Person.email).in_(wanted), func.lower(Person.upn).in_(wanted)),
            )
            .order_by(Person.id)
            .limit(1)
        )

    async def subgroup_for_channel(self, conversation: Conversation) -> SubGroup | None:
        return await self.session.scalar(select(SubGroup).where(SubGroup.channel_id == conversation.id))

    async def by_ids(self, ids: Iterable[int]) -> dict[int, Person]:
        wanted = set(ids)
        if not wanted:
            return {}
        return {p.id: p for p in await self.session.scalars(select(Person).where(Person.id.in_(wanted)))}

    async def subgroups_by_ids(self, ids: Iterable[int]) -> dict[int, SubGroup]:
        wanted = set(ids)
        if not wanted:
            return {}
        return {g.id: g for g in await self.session.scalars(select(SubGroup).where(SubGroup.id.in_(wanted)))}


class UpdateRepository:
    """Progress updates: appended, never edited; an action's status is its latest live update."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, update: Update) -> Update:
        await self.extend([update])
        return update

    async def extend(self, updates: Sequence[Update]) -> None:
        """Several updates stored together, in the order given (an import's history of an action)."""
        self.session.add_all(updates)
        await self.session.flush()

    async def history(self, action_id: int) -> list[Update]:
        return (await self.histories([action_id]))[action_id]

    async def histories(self, action_ids: Sequence[int]) -> dict[int, list[Update]]:
        """Each action's updates, oldest first, in one query."""
        result: dict[int, list[Update]] = defaultdict(list)
        if action_ids:
            for update in await self.session.scalars(
                select(Update).where(Update.action_id.in_(action_ids)).order_by(Update.created_at, Update.id)
            ):
                result[update.action_id].append(update)
        return {action_id: result[action_id] for action_id in action_ids}

    async def current(self, action_id: int) -> Update | None:
        return current_of(await self.history(action_id))

    async def get(self, update_id: int) -> Update | None:
        return await self.session.get(Update, update_id)

    async def delivered(self, conversation_id: str, activity_id: str) -> Update | None:
        """The update an activity already produced (Teams may deliver an activity twice)."""
        return await self.session.scalar(
            select(Update).where(Update.conversation_id == conversation_id, Update.activity_id == activity_id)
        )

    async def last_by(self, person_id: int, since: datetime) -> Update | None:
        """The person's latest update since `since` that is not a withdrawal and not withdrawn."""
        withdrawn = select(Update.withdraws_id).where(Update.withdraws_id.is_not(None))
        return await self.session.scalar(
            select(Update)
            .where(
                Update.author_id == person_id,
                Update.created_at >= since,
                Update.withdraws_id.is_(None),
                Update.id.not_in(withdrawn),
            )
            .order_by(Update.created_at.desc(), Update.id.desc())
            .limit(1)
        )


REVIEW_CHUNK = 500  # update ids per query for their notes' reviews (every query the same shape)


class NoteRepository:
    """Decisions about notes: a redaction replaces the text (the only change ever made to an update),
    a clearance lets it be shown as written; each is a `note_review` row and an audit event."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reviews(self, update_ids: Iterable[int]) -> dict[int, set[ReviewKind]]:
        """Asked in chunks of a few sizes only (a chunk padded with its own last id): each length of list
        is a statement of its own, and each connection keeps its last 128 statements prepared, so a
        plan whose history grew by one update made a new one every time (~66 kB each on SQLite: the
        soak of issue 12 saw the server's memory grow by this)."""
        wanted = list(set(update_ids))
        found: dict[int, set[ReviewKind]] = defaultdict(set)
        for start in range(0, len(wanted), REVIEW_CHUNK):
            chunk = wanted[start : start + REVIEW_CHUNK]
            size = min(REVIEW_CHUNK, max(16, 1 << (len(chunk) - 1).bit_length()))  # 16, 32, ... 256, 500
            chunk += chunk[-1:] * (size - len(chunk))
            for update_id, kind in await self.session.execute(
                select(NoteReview.update_id, NoteReview.kind).where(NoteReview.update_id.in_(chunk))
            ):
                found[update_id].add(kind)
        return dict(found)

    async def history(self, update_id: int) -> list[NoteReview]:
        return list(
            await self.session.scalars(
                select(NoteReview).where(NoteReview.update_id == update_id).order_by(NoteReview.at, NoteReview.id)
            )
        )

    async def redact(
        self,
        update: Update,
        partnership_id: int,
        by: Actor,
        reason: str,
        at: datetime,
        text: str,
        ref: str,
        audit: bool = True,
    ) -> NoteReview:
        """Replace the note's text with `text` (nothing else about the update changes) and record it."""
        await self.session.execute(
            update_statement(Update)
            .where(Update.id == update.id)
            .values(comment=text)
            .execution_options(append_only_rewrite=Rewrite.REDACTION)
        )
        await self.session.refresh(update, ["comment"])
        summary = f"redacted the note of update {update.id} on {ref}: {reason}"
        return await self._review(update, ReviewKind.REDACTED, partnership_id, by, reason, at, ref, summary, audit)

    async def clear(
        self, update: Update, partnership_id: int, by: Actor, reason: str, at: datetime, ref: str
    ) -> NoteReview:
        """The business unit checked the note: shown as written wherever notes leave the bot."""
        summary = f"cleared the note of update {update.id} on {ref} to be shown as written: {reason}"
        return await self._review(update, ReviewKind.CLEARED, partnership_id, by, reason, at, ref, summary)

    async def _review(
        self,
        update: Update,
        kind: ReviewKind,
        partnership_id: int,
        by: Actor,
        reason: str,
        at: datetime,
        ref: str,
        summary: str,
        audit: bool = True,
    ) -> NoteReview:
        """Record who reviewed the note, when and why, and (unless told not to) in the audit log."""
        review = NoteReview(update_id=update.id, kind=kind, by_id=by.person_id, by_name=by.name, at=at, reason=reason)
        self.session.add(review)
        await self.session.flush()
        if audit:
            detail = {"update_id": update.id, "ref": ref, "reason": reason}
            event = AuditKind.NOTE_REDACTED if kind is ReviewKind.REDACTED else AuditKind.NOTE_CLEARED
            await AuditRepository(self.session).record(partnership_id, event, by, summary, detail, at)
        return review


async def cleared_update_ids(session: AsyncSession, update_ids: Iterable[int]) -> set[int]:
    """Those of `update_ids` whose note the business unit cleared to be shown as written."""
    reviews = await NoteRepository(session).reviews(update_ids)
    return {update_id for update_id, kinds in reviews.items() if ReviewKind.CLEARED in kinds}


async def redacted_update_ids(session: AsyncSession, update_ids: Iterable[int]) -> set[int]:
    """Those of `update_ids` whose note was redacted (by a person or the retention policy)."""
    reviews = await NoteRepository(session).reviews(update_ids)
    return {update_id for update_id, kinds in reviews.items() if ReviewKind.REDACTED in kinds}


class RevisionRepository:
    """Revised dates the business unit accepted: appended, one per proposal, never edited."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def accept(self, revision: MilestoneRevision) -> bool:
        """Record an acceptance; False if that proposal was already accepted (by anyone, on any replica)."""
        if await self.for_proposal(revision.proposal_id) is not None:
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(revision)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def for_proposal(self, proposal_id: int) -> MilestoneRevision | None:
        return await self.session.scalar(select(MilestoneRevision).where(MilestoneRevision.proposal_id == proposal_id))

    async def for_actions(self, action_ids: Sequence[int]) -> dict[int, list[MilestoneRevision]]:
        """Each action's accepted revisions, oldest first, in one query."""
        result: dict[int, list[MilestoneRevision]] = defaultdict(list)
        if action_ids:
            for row in await self.session.scalars(
                select(MilestoneRevision)
                .where(MilestoneRevision.action_id.in_(action_ids))
                .order_by(MilestoneRevision.accepted_at, MilestoneRevision.id)
            ):
                result[row.action_id].append(row)
        return {action_id: result[action_id] for action_id in action_ids}


def revision(row: MilestoneRevision) -> Revision:
    return Revision(replaces=row.replaces_on, due=Due(row.due_on, row.precision), agreed=row.accepted_at)


def current_of(history: Sequence[Update]) -> Update | None:
    latest = current_update(facts(u) for u in history)
    return next(u for u in history if u.id == latest.id) if latest else None


class ConversationRepository:
    """Where the bot may write later: personal chats, team channels, group chats."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, conversation_id: str) -> Conversation | None:
        return await self.session.scalar(select(Conversation).where(Conversation.conversation_id == conversation_id))

    async def upsert(self, conversation_id: str, kind: ConversationKind, **fields: object) -> Conversation:
        """Record (or refresh) a conversation's address; a conversation seen again is no longer removed."""
        found = await self.get(conversation_id)
        fresh = found is None or found.removed_at is not None
        if found is None:
            found = Conversation(conversation_id=conversation_id, kind=kind)
            self.session.add(found)
        for name, value in fields.items():
            if value is not None and (fresh or name != "installed_at"):
                setattr(found, name, value)
        found.removed_at = None
        await self.session.flush()
        return found

    async def in_team(self, team_id: str) -> list[Conversation]:
        return list(await self.session.scalars(select(Conversation).where(Conversation.team_id == team_id)))

    async def active_for(self, partnership_id: int, kind: ConversationKind, person_id: int) -> list[Conversation]:
        """A person's conversations of a kind that the bot can still write to, the latest first."""
        return list(
            await self.session.scalars(
                select(Conversation)
                .where(
                    Conversation.partnership_id == partnership_id,
                    Conversation.kind == kind,
                    Conversation.person_id == person_id,
                    Conversation.removed_at.is_(None),
                )
                .order_by(Conversation.installed_at.desc(), Conversation.id.desc())
            )
        )

    async def active(self, partnership: Partnership, kind: ConversationKind) -> list[Conversation]:
        return list(
            await self.session.scalars(
                select(Conversation).where(
                    Conversation.partnership_id == partnership.id,
                    Conversation.kind == kind,
                    Conversation.removed_at.is_(None),
                )
            )
        )


class DispatchRepository:
    """Claims on what the scheduler owes: a claim is a row, and the database lets only one exist."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, key: DispatchKey, who: str, now: datetime, stale_before: datetime) -> Dispatch | None:
        """Take the dispatch for this process, or None if another has it (or had it and finished).

        A claim left in CLAIMED (its process stopped before sending) is taken over once it is stale;
        one left in SENDING is not: that send may have arrived.
        """
        try:
            async with self.session.begin_nested():
                row = Dispatch(**key.fields(), status=DispatchStatus.CLAIMED, claimed_by=who, claimed_at=now)
                self.session.add(row)
                await self.session.flush()
                return row
        except IntegrityError:
            pass
        taken = await self.session.execute(
            update(Dispatch)
            .where(*key.where(), Dispatch.status == DispatchStatus.CLAIMED, Dispatch.claimed_at < stale_before)
            .values(claimed_by=who, claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return await self.session.scalar(select(Dispatch).where(*key.where()))
        return None

    async def give_up_on_stale_sends(
        self, partnership_id: int, stale_before: datetime, now: datetime
    ) -> list[Dispatch]:
        """Sends that started and never finished (their process stopped): they may have arrived, so
        they are marked UNKNOWN for the business unit to check, never sent again."""
        stale = list(
            await self.session.scalars(
                select(Dispatch).where(
                    Dispatch.partnership_id == partnership_id,
                    Dispatch.status == DispatchStatus.SENDING,
                    Dispatch.claimed_at < stale_before,
                )
            )
        )
        for row in stale:
            row.status = DispatchStatus.UNKNOWN
            row.finished_at = now
            row.detail = f"the send by {row.claimed_by} did not finish; it may or may not have arrived"
        await self.session.flush()
        return stale

    async def skip(self, key: DispatchKey, who: str, now: datetime, why: str) -> bool:
        """Record that this dispatch is not to be sent (a snoozed nudge); False if it already exists."""
        try:
            async with self.session.begin_nested():
                self.session.add(
                    Dispatch(**key.fields(), status=DispatchStatus.SKIPPED, claimed_by=who, claimed_at=now, detail=why)
                )
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def for_meeting(self, partnership: Partnership, meeting_on: date) -> list[Dispatch]:
        return list(
            await self.session.scalars(
                select(Dispatch)
                .where(Dispatch.partnership_id == partnership.id, Dispatch.meeting_on == meeting_on)
                .order_by(Dispatch.id)
            )
        )


@dataclass(frozen=True)
class DispatchKey:
    partnership_id: int
    meeting_on: date
    kind: DispatchKind
    target: str

    def fields(self) -> dict[str, object]:
        return {
            "partnership_id": self.partnership_id,
            "meeting_on": self.meeting_on,
            "kind": self.kind,
            "target": self.target,
        }

    def where(self) -> list[Any]:
        return [
            Dispatch.partnership_id == self.partnership_id,
            Dispatch.meeting_on == self.meeting_on,
            Dispatch.kind == self.kind,
            Dispatch.target == self.target,
        ]


class MeetingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, partnership: Partnership, day: date, *, by: Actor, at: datetime) -> bool:
        """Add a meeting, recorded in the audit log; False if there is one that day already (even one
        another replica added a moment ago)."""
        if day in await self.dates(partnership):
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(Meeting(partnership_id=partnership.id, meets_on=day))
                await self.session.flush()
        except IntegrityError:
            return False
        await AuditRepository(self.session).record(
            partnership.id,
            AuditKind.MEETING_ADDED,
            by,
            f"added a BMG on {day.isoformat()}",
            {"day": day.isoformat()},
            at,
        )
        return True

    async def remove(self, partnership: Partnership, day: date, *, by: Actor, at: datetime) -> bool:
        found = await self.session.scalar(
            select(Meeting).where(Meeting.partnership_id == partnership.id, Meeting.meets_on == day)
        )
        if found is None:
            return False
        await self.session.delete(found)
        await self.session.flush()
        await AuditRepository(self.session).record(
            partnership.id,
            AuditKind.MEETING_REMOVED,
            by,
            f"removed the BMG on {day.isoformat()}",
            {"day": day.isoformat()},
            at,
        )
        return True

    async def dates(self, partnership: Partnership) -> list[date]:
        return list(
            await self.session.scalars(
                select(Meeting.meets_on).where(Meeting.partnership_id == partnership.id).order_by(Meeting.meets_on)
            )
        )


@dataclass(frozen=True)
class PlanCounts:
    plans: int
    objectives: int
    actions: int
    subgroups: int
    meetings: int
    updates: int


async def counts(session: AsyncSession, partnership: Partnership) -> PlanCounts:
    """What a partnership holds, for `make run` and the CLI to say what was loaded."""

    async def count(query: object) -> int:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]

    plan_ids = select(Plan.id).where(Plan.partnership_id == partnership.id)
    return PlanCounts(
        plans=await count(select(func.count()).select_from(Plan).where(Plan.partnership_id == partnership.id)),
        objectives=await count(select(func.count()).select_from(Objective).where(Objective.plan_id.in_(plan_ids))),
        actions=await count(
            select(func.count()).select_from(Action).where(Action.plan_id.in_(plan_ids), Action.archived.is_(False))
        ),
        subgroups=await count(
            select(func.count()).select_from(SubGroup).where(SubGroup.partnership_id == partnership.id)
        ),
        meetings=await count(select(func.count()).select_from(Meeting).where(Meeting.partnership_id == partnership.id)),
        updates=await count(
            select(func.count())
            .select_from(Update)
            .join(Action, Update.action_id == Action.id)
            .where(Action.plan_id.in_(plan_ids))
        ),
    )
