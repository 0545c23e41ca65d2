"""What a message means, as plain data: the intent, and the slots read from the text beside it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.rules import Rag
from bot.updates import Draft


class IntentName(enum.StrEnum):
    HELP = "help"
    MY_ACTIONS = "my_actions"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    BY_RAG = "by_rag"
    NO_UPDATE = "no_update"
    SHOW = "show"
    HISTORY = "history"
    SUBGROUP_ACTIONS = "subgroup_actions"
    NEXT_BMG = "next_bmg"
    LINK_CHANNEL = "link_channel"
    UPDATE = "update"
    UNDO = "undo"
    SUMMARY_PREVIEW = "summary_preview"
    SET_BMG = "set_bmg"
    SNOOZE = "snooze"
    PAPER = "paper"
    MORE = "more"
    OVERVIEW = "overview"
    MISSED_REPORTS = "missed_reports"
    ACCEPT_DATE = "accept_date"
    REDACT = "redact"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    ACKNOWLEDGE = "acknowledge"
    UNKNOWN = "unknown"


SMALL_TALK = frozenset({IntentName.GREETING, IntentName.THANKS, IntentName.GOODBYE, IntentName.ACKNOWLEDGE})


class Scope(enum.StrEnum):
    DEFAULT = "default"  # the conversation decides: a linked channel's sub-group, or the person's own
    MINE = "mine"
    SUBGROUP = "subgroup"
    ALL = "all"


@dataclass(frozen=True)
class Intent:
    name: IntentName
    ref: str | None = None
    rags: tuple[Rag, ...] = ()  # every rating asked about, in the order said ("reds and ambers")
    subgroup: str | None = None  # the sub-group name or alias that matched, as known to the bot
    scope: Scope = Scope.DEFAULT
    rest: str = ""  # the text as said (for a meeting date, a sub-group to link, an echo)
    unmatched: str = ""  # a sub-group seemingly named but not recognised ("actions for the choir")
    draft: Draft | None = None  # an update, read from the message
    confirm: bool = False  # an update that may not be one: ask before storing it
    suggestions: tuple[IntentName, ...] = ()  # for a message not understood: the nearest things to offer

    @property
    def rag(self) -> Rag | None:
        return self.rags[0] if self.rags else None

    @property
    def names_unknown_subgroup(self) -> bool:
        """Asked of a sub-group the bot does not know ("overdue for the choir")."""
        return self.subgroup is None and bool(self.unmatched)
