"""The business unit's review of notes: which may leave the bot as written."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import own_patterns
from storage.models import Partnership
from storage.repositories import cleared_update_ids


async def cleared(session: AsyncSession, update_ids: Collection[int]) -> set[int]:
    """The updates among `update_ids` whose note the business unit has cleared to leave the bot as
    written (`planbot notes clear`); every other note leaves with identifying details removed."""
    return await cleared_update_ids(session, update_ids)


async def case_patterns(session: AsyncSession, partnership_id: int) -> tuple[re.Pattern[str], ...]:
    """The partnership's own case-id patterns, checked in every note beside the built-in ones."""
    partnership = await session.get_one(Partnership, partnership_id)
    return own_patterns(partnership.privacy_patterns or [])
