"""Erasing a person: pseudonymised everywhere their name or addresses were kept or copied, so that
the plan's history stands (who posted what stays "a former member of staff") and nothing identifies them."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import Actor, AuditRepository
from storage.models import (
    FORMER_STAFF,
    Action,
    AuditEvent,
    AuditKind,
    BotState,
    Conversation,
    Membership,
    MilestoneRevision,
    NoteReview,
    Partnership,
    Person,
    Plan,
    Rewrite,
    Role,
    SubGroup,
    Update,
)

ERASURE = {"append_only_rewrite": Rewrite.ERASURE}


@dataclass(frozen=True)
class Erased:
    person_id: int
    updates: int  # updates whose author is now "a former member of staff"
    notes: int  # notes (and reasons, audit entries) that named them, with the name replaced
    memberships: int
    chairs: int
    conversations: int


async def find_by_email(session: AsyncSession, partnership: Partnership, email: str) -> Person | None:
    """The person with this email or UPN, removed or not."""
    return await session.scalar(
        select(Person)
        .where(
            Person.partnership_id == partnership.id,
            or_(func.lower(Person.email) == email.lower(), func.lower(Person.upn) == email.lower()),
        )
        .limit(1)
    )


async def erase_person(
    session: AsyncSession, partnership: Partnership, person: Person, by: Actor, at: datetime
) -> Erased:
    """Pseudonymise `person` in every table; recorded in the audit log without the erased details."""
    words = [w for w in (person.name, person.email, person.upn) if w and w != FORMER_STAFF]
    # Nothing to look for (erased before): a pattern that matches nothing, never the empty one that matches all.
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) or r"(?!)"
    pattern = re.compile(alternatives, re.I)
    action_ids = select(Action.id).join(Plan, Action.plan_id == Plan.id).where(Plan.partnership_id == partnership.id)

    authored = await session.execute(
        update(Update)
        .where(
            Update.action_id.in_(action_ids),
            or_(Update.author_id == person.id, func.lower(Update.author_name) == person.name.lower()),
        )
        .values(author_name=FORMER_STAFF)
        .execution_options(**ERASURE)
    )
    named = 0
    mentions = [func.lower(Update.comment).contains(w.lower(), autoescape=True) for w in words]
    named_rows = select(Update).where(Update.action_id.in_(action_ids), or_(*mentions)) if mentions else None
    for row in await session.scalars(named_rows) if named_rows is not None else []:
        named += await _rewrite(session, Update, row.id, {"comment": _scrub(pattern, row.comment)})
    await session.execute(
        update(MilestoneRevision)
        .where(MilestoneRevision.accepted_by_id == person.id)
        .values(accepted_by_name=FORMER_STAFF)
        .execution_options(**ERASURE)
    )
    reviews = select(NoteReview).join(Update, NoteReview.update_id == Update.id).where(Update.action_id.in_(action_ids))
    for review in await session.scalars(reviews):
        values: dict[str, Any] = {}
        if review.by_id == person.id or pattern.search(review.by_name):
            values["by_name"] = FORMER_STAFF
        if pattern.search(review.reason):
            values["reason"] = _scrub(pattern, review.reason)
        named += await _rewrite(session, NoteReview, review.id, values)
    for event in await session.scalars(select(AuditEvent).where(AuditEvent.partnership_id == partnership.id)):
        values = {}
        if event.actor_id == person.id or pattern.search(event.actor_name):
            values["actor_name"] = _scrub(pattern, event.actor_name) if event.actor_id != person.id else FORMER_STAFF
        if pattern.search(event.summary):
            values["summary"] = _scrub(pattern, event.summary)
        detail = json.dumps(event.detail, ensure_ascii=False)
        if pattern.search(detail):
            values["detail"] = json.loads(_scrub(pattern, detail))
        named += await _rewrite(session, AuditEvent, event.id, values)

    memberships = await session.execute(delete(Membership).where(Membership.person_id == person.id))
    chairs = await session.execute(update(SubGroup).where(SubGroup.chair_id == person.id).values(chair_id=None))
    await session.execute(
        update(Action)
        .where(Action.lead_person_id == person.id, Action.lead_text.is_not(None))
        .values(lead_text=FORMER_STAFF)
    )
    conversations = list(await session.scalars(select(Conversation).where(Conversation.person_id == person.id)))
    for conversation in conversations:
        await session.execute(
            delete(BotState).where(
                BotState.key.contains(f"/conversations/{conversation.conversation_id}", autoescape=True)
            )
        )
        conversation.user_id = None
        conversation.removed_at = conversation.removed_at or at

    person.name = FORMER_STAFF
    person.email = person.job_title = person.aad_object_id = person.upn = person.teams_user_id = None
    person.role = Role.REMOVED
    await session.flush()
    erased = Erased(
        person_id=person.id,
        updates=_count(authored),
        notes=named,
        memberships=_count(memberships),
        chairs=_count(chairs),
        conversations=len(conversations),
    )
    await AuditRepository(session).record(
        partnership.id,
        AuditKind.PERSON_ERASED,
        by,
        f"erased person {person.id}: now {FORMER_STAFF} on {erased.updates} updates; "
        f"{erased.notes} notes and records that named them rewritten; {erased.memberships} memberships and "
        f"{erased.chairs} chairs removed; {erased.conversations} conversations forgotten",
        asdict(erased),
        at,
    )
    return erased


def _scrub(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(FORMER_STAFF, text)


async def _rewrite(
    session: AsyncSession, model: type[Update | NoteReview | AuditEvent], row_id: int, values: dict[str, Any]
) -> int:
    if not values:
        return 0
    await session.execute(update(model).where(model.id == row_id).values(**values).execution_options(**ERASURE))
    return 1


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
