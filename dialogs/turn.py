"""What a dialog needs from the turn it runs in: the open transaction, the plan, the person, the time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from botbuilder.core import TurnContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot import posting
from bot.updates import Draft
from bot.views import Snapshot
from storage.models import Person, Source, Update

TURN = "plan_tracker.turn"


@dataclass(frozen=True)
class Turn:
    session: AsyncSession
    snapshot: Snapshot
    person: Person
    now: datetime
    conversation_id: str
    activity_id: str | None
    # The activity had stored no update when the turn began (asked once with the audit log's question).
    new: bool = False
    stored: list[Update] = field(default_factory=list)  # the updates this turn stored

    async def save(self, draft: Draft, source: Source) -> posting.Saved | posting.Refused:
        """Store an update as this turn's person, from this turn's activity."""
        outcome = await posting.save(
            self.session,
            self.snapshot,
            self.person,
            draft,
            source=source,
            now=self.now,
            conversation_id=self.conversation_id,
            activity_id=self.activity_id,
            new=self.new and not self.stored,
        )
        if isinstance(outcome, posting.Saved) and not outcome.again:
            self.stored.append(outcome.update)
        return outcome

    @staticmethod
    def of(turn_context: TurnContext) -> Turn:
        turn: Turn = turn_context.turn_state[TURN]
        return turn
