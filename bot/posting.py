"""Storing an update for a person: who may, the rules of a rating, once per delivered activity, undo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.refusals import refused
from bot.updates import UNDO_WINDOW, Draft, note_problem
from bot.views import Snapshot
from storage.models import Person, Role, Source, Update
from storage.repositories import UpdateRepository


@dataclass(frozen=True)
class Saved:
    update: Update
    again: bool  # the same activity was delivered before: nothing new was stored


@dataclass(frozen=True)
class Refused:
    reason: str


def may_update(snapshot: Snapshot, person: Person, ref: str) -> bool:
    """The action's lead, the chair and members of a leading sub-group, and the business unit."""
    action = snapshot.action(ref)
    if action is None:
        return False
    return person.role is Role.ADMIN or snapshot.may_update(person.id, action)


def who_may(snapshot: Snapshot, ref: str) -> str:
    action = snapshot.action(ref)
    if action is None:
        return "nobody"
    if action.lead_subgroup_id is not None:
        return f"the chair and members of {action.lead}, or the business unit"
    return f"{action.lead} or the business unit"


def not_yours(snapshot: Snapshot, person: Person, ref: str) -> str:
    """The refusal of an update to `ref` by someone who may not update it; logged."""
    refused("not theirs to update", partnership=person.partnership_id, person=person.id, ref=ref)
    return messages.not_yours(ref, who_may(snapshot, ref))


def refusal(snapshot: Snapshot, person: Person, draft: Draft) -> str | None:
    """Why this update cannot be stored as it is, or None."""
    ref = draft.ref or ""
    action = snapshot.action(ref)
    if action is None:
        return messages.unknown_action(ref, snapshot.partnership, snapshot.plan)
    if not may_update(snapshot, person, ref):
        return not_yours(snapshot, person, ref)
    if draft.rag is None:
        return messages.which_rag(draft.unknown_rag)
    return note_problem(draft.rag, draft.note, action.measure)


async def save(
    session: AsyncSession,
    snapshot: Snapshot,
    person: Person,
    draft: Draft,
    *,
    source: Source,
    now: datetime,
    conversation_id: str,
    activity_id: str | None,
    new: bool = False,
) -> Saved | Refused:
    """Store the update if every rule allows it; the same delivery twice stores it once. `new`: the
    activity is known to have stored no update (the turn asked as it began), so it is not asked again."""
    updates = UpdateRepository(session)
    if activity_id and not new and (earlier := await updates.delivered(conversation_id, activity_id)):
        return Saved(earlier, again=True)
    problem = refusal(snapshot, person, draft)
    if problem:
        return Refused(problem)
    action = snapshot.action(draft.ref or "")
    assert action is not None and draft.rag is not None
    update = await updates.append(
        Update(
            action_id=action.id,
            rag=draft.rag,
            comment=(draft.note or "").strip(),
            author_id=person.id,
            author_name=person.name,
            created_at=now,
            source=source,
            activity_id=activity_id,
            conversation_id=conversation_id,
            revised_due_on=draft.revised.on if draft.revised else None,
            revised_precision=draft.revised.precision if draft.revised else None,
        )
    )
    return Saved(update, again=False)


@dataclass(frozen=True)
class Withdrawn:
    update: Update  # the update withdrawn
    again: bool  # the same activity was delivered before: it had already been withdrawn


async def undo(
    session: AsyncSession, person: Person, now: datetime, conversation_id: str, activity_id: str | None = None
) -> Withdrawn | None:
    """Withdraw the person's last update if it is recent: a withdrawal is added, nothing is deleted.

    The withdrawal keeps the activity that asked for it, so the same activity delivered twice withdraws one update.
    """
    updates = UpdateRepository(session)
    if activity_id and (earlier := await updates.delivered(conversation_id, activity_id)):
        if earlier.withdraws_id is not None:
            withdrawn = await updates.get(earlier.withdraws_id)
            if withdrawn is not None:
                return Withdrawn(withdrawn, again=True)
        return None
    last = await updates.last_by(person.id, now - UNDO_WINDOW)
    if last is None:
        return None
    await updates.append(
        Update(
            action_id=last.action_id,
            rag=None,
            comment="",
            author_id=person.id,
            author_name=person.name,
            created_at=now,
            source=last.source,
            conversation_id=conversation_id,
            activity_id=activity_id,
            withdraws_id=last.id,
        )
    )
    return Withdrawn(last, again=False)
