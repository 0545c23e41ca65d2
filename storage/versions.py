"""The data stamp: which database (its epoch), which state of its partnerships (the version bumped when
a partnership itself changes), and which state of one partnership's plan (the version that triggers
bump on every write to it, whoever writes: this process, another replica, the command line)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from storage.models import DataVersion, PlanVersion


@dataclass(frozen=True, order=True)
class DataStamp:
    epoch: str
    version: int
    partnership: int  # whose plan `plan` is the version of
    plan: int

    @property
    def shared(self) -> tuple[str, int]:
        """What the partnerships themselves (a tenant's, say) are good for."""
        return self.epoch, self.version

    def follows(self, other: DataStamp) -> bool:
        """Is this the same partnership's plan as `other`, at it or later? (A plan's version only grows;
        a change to the partnerships themselves, or a restore, starts a new count.)"""
        return self.shared == other.shared and self.partnership == other.partnership and self.plan >= other.plan

    def of(self, partnership: int) -> DataStamp | None:
        """This stamp, if it is the given partnership's."""
        return self if self.partnership == partnership else None


# The stamp of one partnership's plan (a partnership never written since the versions began is at 0).
STAMP = (
    select(DataVersion.epoch, DataVersion.version, PlanVersion.version)
    .select_from(DataVersion)
    .outerjoin(PlanVersion, PlanVersion.partnership_id == bindparam("partnership"))
    .where(DataVersion.id == 1)
)


# The same, holding the plan's version row (one round trip: the row locked, the shared version read with it).
HELD = (
    select(DataVersion.epoch, DataVersion.version, PlanVersion.version)
    .select_from(DataVersion)
    .join(PlanVersion, PlanVersion.partnership_id == bindparam("partnership"))
    .where(DataVersion.id == 1)
    .with_for_update(of=PlanVersion)
)


async def first_row(session: AsyncSession, statement: Executable, values: Mapping[str, object]) -> Sequence[Any] | None:
    """The first row of a statement that reads no ORM entity, run on the session's connection: what the
    session would do (it flushes what is pending first), without its ORM handling of the statement and
    the result (a tenth of a millisecond on each of the statements every update runs)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    return (await connection.execute(statement, values)).first()


async def data_stamp(session: AsyncSession, partnership: int, *, hold: bool = False) -> DataStamp | None:
    """The stamp of a partnership's plan as this transaction sees it. `hold`: and no other transaction
    may change that plan until this one ends (PostgreSQL locks the partnership's version row, as the
    first write would; on SQLite a transaction that writes after another committed fails, so what it
    saw stays true until it commits)."""
    if not hold:
        row = await first_row(session, STAMP, {"partnership": partnership})
        return DataStamp(row[0], row[1], partnership, row[2] or 0) if row is not None else None
    row = await first_row(session, HELD, {"partnership": partnership})
    if row is None:  # nothing to hold: the turn's writes are not kept
        return None
    return DataStamp(row[0], row[1], partnership, row[2])
