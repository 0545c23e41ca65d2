"""Revised dates: a lead proposes one in an update; the business unit accepts it, and from then on
it replaces the milestone the proposal revised (the plan keeps its original milestones)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.refusals import refused
from bot.rules import Due, revised_milestone
from bot.views import Snapshot
from storage.audit import Actor, AuditRepository
from storage.models import Accepted, AuditKind, MilestoneRevision, Person, Role
from storage.repositories import RevisionRepository


async def accept_revision(
    session: AsyncSession,
    snapshot: Snapshot,
    person: Person,
    ref: str,
    now: datetime,
    source: Accepted,
    by: Actor | None = None,
) -> str:
    """Accept the latest proposed date of action `ref` for the business unit; says what happened."""
    return (await accept(session, snapshot, person, ref, now, source, by))[1]


async def accept(
    session: AsyncSession,
    snapshot: Snapshot,
    person: Person,
    ref: str,
    now: datetime,
    source: Accepted,
    by: Actor | None = None,
) -> tuple[bool, str]:
    """As `accept_revision`, and whether the date now stands accepted (newly or already). A new
    acceptance is recorded in the audit log, as done `by` (the person, from the activity that asked)."""
    if person.role is not Role.ADMIN:
        refused("accepting a date is for the business unit", partnership=person.partnership_id, person=person.id)
        return False, messages.dates_are_for_admins(snapshot.admins)
    action = snapshot.action(ref)
    if action is None:
        return False, messages.unknown_action(ref, snapshot.partnership, snapshot.plan)
    if action.proposal_id is None or action.proposed_at is None:
        return False, messages.no_pending_proposal(ref)
    repo = RevisionRepository(session)
    done = await repo.for_proposal(action.proposal_id)
    if done is None and action.proposed is not None:
        target = revised_milestone(action.milestones, action.proposed_at, snapshot.tz)
        if target is None:
            return False, messages.no_milestone_to_revise(ref)
        row = MilestoneRevision(
            action_id=action.id,
            proposal_id=action.proposal_id,
            replaces_on=target.original.on,
            due_on=action.proposed.on,
            precision=action.proposed.precision,
            accepted_by_id=person.id,
            accepted_by_name=person.name,
            accepted_at=now,
            source=source,
        )
        if await repo.accept(row):
            await AuditRepository(session).record(
                person.partnership_id,
                AuditKind.DATE_ACCEPTED,
                by or Actor.of(person),
                f"accepted {ref}'s proposed date {action.proposed.label} "
                f"(replacing the {target.original.label} milestone)",
                {"ref": ref, "proposal_id": action.proposal_id, "due_on": action.proposed.on.isoformat()},
                now,
            )
            return True, messages.date_accepted(ref, action.proposed.label, target.original.label)
        done = await repo.for_proposal(action.proposal_id)
    if done is None:
        return False, messages.no_pending_proposal(ref)
    agreed = done.accepted_at.astimezone(snapshot.tz)
    label = Due(done.due_on, done.precision).label
    return True, messages.date_already_accepted(ref, label, done.accepted_by_name, agreed)
