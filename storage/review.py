"""The business unit's review of notes: which may leave the bot as written."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import own_patterns
from storage.models import Partnership


async def cleared(session: AsyncSession, update_ids: Collection[int]) -> set[int]:
    """The updates among `update_ids` whose note the business unit has cleared to leave the bot as written.

    Reads the business unit's review of each note. No review is recorded in this database yet, so no
    note is cleared: every note leaves the bot (in an export, a paper) with identifying details removed.
    """
    return set()


async def case_patterns(session: AsyncSession, partnership_id: int) -> tuple[re.Pattern[str], ...]:
    """The partnership's own case-id patterns, checked in every note beside the built-in ones."""
    partnership = await session.get_one(Partnership, partnership_id)
    return own_patterns(partnership.privacy_patterns or [])
