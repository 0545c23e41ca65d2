"""Redacting a note: the business unit, or the note's author, replaces its text; the update, its
rating, who posted it and when stay, with a record of who redacted it, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.refusals import refused
from bot.views import Snapshot
from storage.audit import Actor
from storage.models import REDACTED_NOTE, Person, Role, Update
from storage.repositories import NoteRepository, UpdateRepository, redacted_update_ids


@dataclass(frozen=True)
class Redacted:
    update: Update
    again: bool  # it was redacted before: nothing changed


def may_redact(person: Person, update: Update) -> bool:
    return person.role is Role.ADMIN or (update.author_id is not None and update.author_id == person.id)


def when(update: Update, tz: ZoneInfo) -> str:
    at = update.created_at.astimezone(tz)
    return f"{at.day} {at:%b %Y} {at:%H:%M}"


async def candidates(
    session: AsyncSession, snapshot: Snapshot, person: Person, ref: str, mine: bool
) -> list[Update] | str:
    """The notes on `ref` this person may redact, newest first (`mine`: only their own latest); or why none."""
    action = snapshot.action(ref)
    if action is None:
        return messages.unknown_action(ref, snapshot.partnership, snapshot.plan)
    history = await UpdateRepository(session).history(action.id)
    done = await redacted_update_ids(session, [u.id for u in history])
    notes = [u for u in reversed(history) if u.withdraws_id is None and u.comment and u.id not in done]
    own = [u for u in notes if u.author_id == person.id]
    if mine:
        return own[:1] or messages.nothing_to_redact(ref, mine=True)
    if person.role is Role.ADMIN:
        return notes or messages.nothing_to_redact(ref, mine=False)
    if not own:
        refused("not theirs to redact", partnership=person.partnership_id, person=person.id, ref=ref)
    return own or messages.redaction_refused(ref, snapshot.admins)


async def redact(
    session: AsyncSession, update: Update, partnership_id: int, by: Actor, reason: str, now: datetime, ref: str
) -> Redacted:
    """Replace the note's text with "[note redacted]", unless it already was."""
    if update.id in await redacted_update_ids(session, [update.id]):
        return Redacted(update, again=True)
    await NoteRepository(session).redact(update, partnership_id, by, reason, now, REDACTED_NOTE, ref)
    return Redacted(update, again=False)
