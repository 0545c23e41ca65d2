"""The data stamp: which database (its epoch) and which state of its plans (the version that triggers
on every plan table bump, whoever writes: this process, another replica, the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DataVersion


@dataclass(frozen=True, order=True)
class DataStamp:
    epoch: str
    version: int


async def data_stamp(session: AsyncSession, *, hold: bool = False) -> DataStamp | None:
    """The stamp as this transaction sees it. `hold`: and no other transaction may change it until this
    one ends (PostgreSQL locks the row, as the first write would; on SQLite a transaction that writes
    after another committed fails, so what it saw stays true until it commits)."""
    query = select(DataVersion.epoch, DataVersion.version).where(DataVersion.id == 1)
    row = (await session.execute(query.with_for_update() if hold else query)).first()
    return DataStamp(row[0], row[1]) if row is not None else None
