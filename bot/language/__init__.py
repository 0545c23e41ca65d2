"""Understanding what people write: a classifier trained on a labelled corpus for what a message is
for, deterministic readers for what it is about (references, ratings, sub-groups, dates), and the
update reader. Nothing here touches Teams or the database."""

from bot.language.classifier import warm
from bot.language.intents import SMALL_TALK, Intent, IntentName, Scope
from bot.language.recogniser import recognise, vocabulary
from bot.language.subgroups import SubgroupIndex, nearest

__all__ = ["SMALL_TALK", "Intent", "IntentName", "Scope", "SubgroupIndex", "nearest", "recognise", "vocabulary", "warm"]
