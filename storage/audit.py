"""The audit log: who changed what, administratively, and when. Appended to, never edited
(but for an erased person's name, replaced everywhere it was copied)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotAllowedError, NotFoundError
from storage.models import AuditEvent, AuditKind, Partnership, Person, Role, Update
from storage.versions import first_row

CLI = "planbot CLI ({user})"
SYSTEM = "planbot"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a person of the partnership, or the command line run by an OS user.

    In Teams, the activity that asked for it, so that the same activity delivered twice changes things once.
    """

    name: str
    person_id: int | None = None
    conversation_id: str | None = None
    activity_id: str | None = None

    @classmethod
    def of(cls, person: Person, conversation_id: str | None = None, activity_id: str | None = None) -> Actor:
        return cls(person.name, person.id, conversation_id, activity_id if conversation_id else None)

    @classmethod
    def cli(cls, os_user: str) -> Actor:
        return cls(CLI.format(user=os_user))


@dataclass(frozen=True)
class Operator:
    """Who runs a command: the person with `email` in the partnership, or else the OS user."""

    os_user: str
    email: str | None = None
    business_unit: bool = False  # only the business unit may do this: anyone else named is refused

    async def actor(self, session: AsyncSession, partnership: Partnership) -> Actor:
        if not self.email:
            return Actor.cli(self.os_user)
        person = await session.scalar(
            select(Person)
            .where(
                Person.partnership_id == partnership.id,
                Person.role != Role.REMOVED,
                or_(func.lower(Person.email) == self.email.lower(), func.lower(Person.upn) == self.email.lower()),
            )
            .limit(1)
        )
        if person is None:
            raise NotFoundError(f"nobody in {partnership.short_name} has the email address {self.email}")
        if self.business_unit and person.role is not Role.ADMIN:
            raise NotAllowedError(f"only {partnership.short_name}'s business unit may do this; nothing was changed")
        return Actor.of(person)


async def actor_for(session: AsyncSession, partnership: Partnership, by: Actor | Operator | None) -> Actor:
    if isinstance(by, Actor):
        return by
    if by is None:
        return Actor(SYSTEM)
    return await by.actor(session, partnership)


@dataclass(frozen=True)
class MadeBefore:
    """What an activity made when it was delivered before."""

    event: AuditEvent | None  # the change it made
    update: int | None  # the id of the update it stored


# The event and the update an activity made, if Teams delivered it before (built once: every turn
# that may write asks it).
MADE_BEFORE = select(
    select(AuditEvent.id)
    .where(AuditEvent.conversation_id == bindparam("conversation"), AuditEvent.activity_id == bindparam("activity"))
    .limit(1)
    .scalar_subquery(),
    select(Update.id)
    .where(Update.conversation_id == bindparam("conversation"), Update.activity_id == bindparam("activity"))
    .limit(1)
    .scalar_subquery(),
)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        partnership_id: int,
        kind: AuditKind,
        by: Actor,
        summary: str,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEvent:
        event = AuditEvent(
            partnership_id=partnership_id,
            at=at or datetime.now(UTC),
            kind=kind,
            actor_id=by.person_id,
            actor_name=by.name,
            summary=summary,
            detail=detail or {},
            conversation_id=by.conversation_id,
            activity_id=by.activity_id,
        )
        self.session.add(event)
        await self.session.flush()
        return event

    async def made_before(self, conversation_id: str, activity_id: str | None) -> MadeBefore:
        """What an activity made when Teams delivered it before, if it did: a change (its event), an
        update; asked in one statement, as every turn that may write asks it."""
        if not activity_id:
            return MadeBefore(None, None)
        found = await first_row(self.session, MADE_BEFORE, {"conversation": conversation_id, "activity": activity_id})
        event_id, update_id = found if found is not None else (None, None)
        return MadeBefore(await self.session.get(AuditEvent, event_id) if event_id else None, update_id)

    async def events(
        self, partnership: Partnership, since: datetime | None = None, kind: AuditKind | None = None
    ) -> list[AuditEvent]:
        """The partnership's events, oldest first."""
        query = select(AuditEvent).where(AuditEvent.partnership_id == partnership.id)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        return list(await self.session.scalars(query.order_by(AuditEvent.at, AuditEvent.id)))
