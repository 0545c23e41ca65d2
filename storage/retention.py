"""The retention policy: the notes of a plan that ended more than N years ago are redacted (the
updates, their ratings and who posted them stay), with a note review each and one audit event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import Actor, AuditRepository
from storage.models import RETENTION_NOTE, Action, AuditKind, Partnership, Plan, Update
from storage.repositories import NoteRepository, redacted_update_ids


@dataclass(frozen=True)
class Expired:
    """One plan whose notes are due for removal under the policy."""

    partnership_id: int
    partnership: str
    plan: str
    ends_on: date
    notes: tuple[tuple[int, str], ...]  # (update id, action ref)


async def expired(session: AsyncSession, years: int, today: date) -> list[Expired]:
    """Plans that ended more than `years` years before `today`, with the notes still to remove."""
    cutoff = today - relativedelta(years=years)
    found = []
    plans = await session.execute(
        select(Plan, Partnership)
        .join(Partnership, Plan.partnership_id == Partnership.id)
        .where(Plan.ends_on.is_not(None), Plan.ends_on < cutoff)
        .order_by(Partnership.short_name, Plan.ends_on)
    )
    for plan, partnership in plans.all():
        rows = [
            (update_id, ref)
            for update_id, ref in await session.execute(
                select(Update.id, Action.ref)
                .join(Action, Update.action_id == Action.id)
                .where(Action.plan_id == plan.id, Update.comment != "", Update.comment != RETENTION_NOTE)
                .order_by(Update.id)
            )
        ]
        done = await redacted_update_ids(session, [update_id for update_id, _ in rows])
        notes = tuple((update_id, ref) for update_id, ref in rows if update_id not in done)
        if notes and plan.ends_on is not None:
            found.append(Expired(partnership.id, partnership.short_name, plan.title, plan.ends_on, notes))
    return found


async def apply(session: AsyncSession, due: list[Expired], years: int, by: Actor, at: datetime) -> int:
    """Remove the notes; one audit event per plan. Returns how many notes were removed."""
    notes = NoteRepository(session)
    removed = 0
    for item in due:
        reason = f"retention policy: the plan ended on {item.ends_on.isoformat()}, more than {years} years ago"
        for update_id, ref in item.notes:
            update = await session.get_one(Update, update_id)
            await notes.redact(update, item.partnership_id, by, reason, at, RETENTION_NOTE, ref, audit=False)
            removed += 1
        await AuditRepository(session).record(
            item.partnership_id,
            AuditKind.RETENTION_RUN,
            by,
            f"removed {len(item.notes)} notes of '{item.plan}' (ended {item.ends_on.isoformat()}) "
            f"under the {years}-year retention policy",
            {
                "plan": item.plan,
                "ends_on": item.ends_on.isoformat(),
                "years": years,
                "update_ids": [u for u, _ in item.notes],
            },
            at,
        )
    return removed
