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


async def data_stamp(session: AsyncSession) -> DataStamp | None:
    row = (await session.execute(select(DataVersion.epoch, DataVersion.version).where(DataVersion.id == 1))).first()
    return DataStamp(row[0], row[1]) if row is not None else None
