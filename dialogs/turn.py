"""What a dialog needs from the turn it runs in: the open transaction, the plan, the person, the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botbuilder.core import TurnContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.views import Snapshot
from storage.models import Person

TURN = "plan_tracker.turn"


@dataclass(frozen=True)
class Turn:
    session: AsyncSession
    snapshot: Snapshot
    person: Person
    now: datetime
    conversation_id: str
    activity_id: str | None

    @staticmethod
    def of(turn_context: TurnContext) -> Turn:
        turn: Turn = turn_context.turn_state[TURN]
        return turn
