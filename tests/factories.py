"""Small builders for test data on top of the demo plans."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Rag
from storage.importer import ImportReport, import_plan_file
from storage.models import Action, Meeting, Objective, Partnership, Person, Plan, Source, SubGroup, Update
from storage.planfile import PlanFile
from storage.repositories import PartnershipRepository, PlanRepository, UpdateRepository


async def load(session: AsyncSession, spec: PlanFile) -> ImportReport:
    return await import_plan_file(session, spec, "test.yaml")


async def plan_of(session: AsyncSession, short_name: str) -> tuple[Partnership, Plan]:
    partnership = await PartnershipRepository(session).by_short_name(short_name)
    return partnership, await PlanRepository(session).current(partnership)


async def action(session: AsyncSession, short_name: str, ref: str) -> Action:
    _, plan = await plan_of(session, short_name)
    found = await PlanRepository(session).action(plan, ref)
    assert found is not None, ref
    return found


async def person(session: AsyncSession, email: str) -> Person:
    found = await session.scalar(select(Person).where(Person.email == email))
    assert found is not None, email
    return found


async def subgroup(session: AsyncSession, name: str) -> SubGroup:
    found = await session.scalar(select(SubGroup).where(SubGroup.name == name))
    assert found is not None, name
    return found


async def add_update(
    session: AsyncSession, target: Action, rag: Rag, comment: str, at: datetime, author: Person | None = None
) -> Update:
    return await UpdateRepository(session).append(
        Update(
            action_id=target.id,
            rag=rag,
            comment=comment,
            created_at=at,
            source=Source.CHAT,
            author_id=author.id if author else None,
            author_name=author.name if author else None,
        )
    )


async def row_counts(session: AsyncSession) -> dict[str, int]:
    """How many rows each table holds: to show that a refused import wrote nothing."""
    tables = {"partnership": Partnership, "plan": Plan, "objective": Objective, "action": Action, "update": Update}
    tables |= {"person": Person, "subgroup": SubGroup, "meeting": Meeting}
    return {
        name: int(await session.scalar(select(func.count()).select_from(model)) or 0) for name, model in tables.items()
    }
