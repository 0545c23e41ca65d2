"""The plan's rules as pure functions over plain data: RAG scale, due dates, overdue, missed reports,
missing updates, and revised dates the business unit accepted.

Nothing here touches a database, Teams or the wall clock: callers pass `now` from a clock and the
partnership's timezone, so every rule is tested with plain values.
"""

from __future__ import annotations

import calendar
import enum
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

LONDON = ZoneInfo("Europe/London")


class Rag(enum.StrEnum):
    """The rating scale, worst first. Blue means complete, evidenced against the success measure."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @classmethod
    def parse(cls, word: str) -> Rag:
        """A rating as a person writes it in a plan or a spreadsheet cell ("Amber", "A", "complete")."""
        key = word.strip().lower()
        found = _RAG_WORDS.get(key)
        if found is None:
            known = ", ".join(r.label for r in cls)
            raise ValueError(f"'{word.strip()}' is not a RAG rating; use one of {known} (Blue = complete)")
        return found


_RAG_WORDS: dict[str, Rag] = {
    **{r.value: r for r in Rag},
    **{r.value[0]: r for r in Rag},
    "complete": Rag.BLUE,
    "completed": Rag.BLUE,
}


class Precision(enum.StrEnum):
    """How precisely a milestone was given: a month ("June 2019") falls due at the end of that month."""

    MONTH = "month"
    DAY = "day"


@dataclass(frozen=True)
class Due:
    """A milestone's due point: the last day it may be met on, and how it was written."""

    on: date
    precision: Precision

    @classmethod
    def month(cls, year: int, month: int) -> Due:
        return cls(date(year, month, calendar.monthrange(year, month)[1]), Precision.MONTH)

    @property
    def label(self) -> str:
        if self.precision is Precision.MONTH:
            return f"{calendar.month_name[self.on.month]} {self.on.year}"
        return f"{self.on.day} {calendar.month_name[self.on.month]} {self.on.year}"

    @property
    def iso(self) -> str:
        """As a plan file writes it: 2019-06 for a month, 2019-06-15 for a day."""
        return self.on.strftime("%Y-%m") if self.precision is Precision.MONTH else self.on.isoformat()

    def passed(self, now: datetime, tz: ZoneInfo = LONDON) -> bool:
        """True once the whole due day is over in the partnership's timezone."""
        return now >= end_of_day(self.on, tz)

    def shifted(self, days: int, months: int) -> Due:
        """The same due point moved: a day by `days`, a month by `months` whole months (it stays a month)."""
        if self.precision is Precision.MONTH:
            index = self.on.year * 12 + self.on.month - 1 + months
            return Due.month(index // 12, index % 12 + 1)
        return Due(self.on + timedelta(days=days), self.precision)


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MONTH_YEAR = re.compile(r"([A-Za-z]+)\.?\s+(\d{4})")


def parse_due(text: str) -> Due:
    """One due point: "2019-06", "2019-06-15" or "June 2019"."""
    value = text.strip()
    try:
        if m := _ISO_MONTH.match(value):
            return Due.month(int(m[1]), int(m[2]))
        if m := _ISO_DAY.match(value):
            return Due(date(int(m[1]), int(m[2]), int(m[3])), Precision.DAY)
    except ValueError:
        pass
    else:
        dues = parse_dues(value)
        if len(dues) == 1:
            return dues[0]
    raise ValueError(f"'{value}' is not a date; write a month as 2019-06 or June 2019, a day as 2019-06-15")


def parse_dues(text: str) -> list[Due]:
    """Every "Month YYYY" in a cell such as "June 2019 Oct 2019 Feb 2020", in order.

    A cell with words that are not months, or text left over, is refused rather than half-read.
    """
    dues: list[Due] = []
    rest = text
    for m in _MONTH_YEAR.finditer(text):
        month = _MONTHS.get(m[1].lower())
        if month is None:
            raise ValueError(f"'{m[1]}' in '{text.strip()}' is not a month")
        dues.append(Due.month(int(m[2]), month))
        rest = rest.replace(m[0], " ", 1)
    if rest.strip(" ,;/&\n\t") and rest.strip(" ,;/&\n\t").lower() != "and":
        raise ValueError(f"could not read '{text.strip()}' as dates; write months like 'June 2019 Oct 2019'")
    return dues


def end_of_day(day: date, tz: ZoneInfo = LONDON) -> datetime:
    """The first instant after `day` in the given timezone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def local_today(now: datetime, tz: ZoneInfo = LONDON) -> date:
    return now.astimezone(tz).date()


@dataclass(frozen=True)
class UpdateFacts:
    """One entry of an action's history. A withdrawal cancels the update it names."""

    id: int
    at: datetime
    rag: Rag | None
    withdraws: int | None = None


def current_update(history: Iterable[UpdateFacts]) -> UpdateFacts | None:
    """An action's status is its latest update that has not been withdrawn."""
    entries = list(history)
    withdrawn = {u.withdraws for u in entries if u.withdraws is not None}
    live = [u for u in entries if u.withdraws is None and u.id not in withdrawn]
    return max(live, key=lambda u: (u.at, u.id), default=None)


def current_rag(history: Iterable[UpdateFacts]) -> Rag | None:
    latest = current_update(history)
    return latest.rag if latest else None


def in_date_order(dues: Iterable[Due]) -> tuple[Due, ...]:
    """Milestones as they are shown: by date, each date once (measures often repeat a date)."""
    by_day: dict[date, Due] = {}
    for due in sorted(dues, key=lambda d: (d.on, d.precision is Precision.DAY)):
        by_day.setdefault(due.on, due)
    return tuple(by_day.values())


def overdue_since(dues: Sequence[Due], rag: Rag | None, now: datetime, tz: ZoneInfo = LONDON) -> Due | None:
    """The last milestone, when it has passed and the action is not Blue; otherwise None.

    Most milestones are reporting points, so only the last one is a deadline.
    """
    if rag is Rag.BLUE or not dues:
        return None
    last = max(dues, key=lambda d: d.on)
    return last if last.passed(now, tz) else None


def is_overdue(dues: Sequence[Due], rag: Rag | None, now: datetime, tz: ZoneInfo = LONDON) -> bool:
    """The last milestone has passed and the action is not Blue."""
    return overdue_since(dues, rag, now, tz) is not None


def late_by(due: Due, now: datetime, tz: ZoneInfo = LONDON) -> timedelta:
    """How long since the due point passed (nothing, if it has not)."""
    return max(now - end_of_day(due.on, tz), timedelta(0))


def how_long(span: timedelta) -> str:
    """A span in words, roughly: "6 days", "3 weeks", "2 months", "13 months", "2 years" (to the hour:
    lists word every late action on every turn, and the words change only every few days)."""
    return _hours_in_words(max(span, timedelta(days=1)) // timedelta(hours=1))


@lru_cache(maxsize=4096)
def _hours_in_words(hours: int) -> str:
    return str(format_timedelta(timedelta(hours=hours), granularity="day", threshold=1.5, locale="en_GB"))


def missed_reports(
    dues: Sequence[Due], history: Iterable[UpdateFacts], now: datetime, tz: ZoneInfo = LONDON
) -> tuple[Due, ...]:
    """Milestones that passed with no live update posted in their window, in date order.

    A milestone's window runs from the end of the previous milestone (the first one's is open at the
    start) to the end of its own day. An action that was Blue when a window opened owes no report
    for it: it was complete.
    """
    entries = list(history)
    withdrawn = {u.withdraws for u in entries if u.withdraws is not None}
    live = sorted((u for u in entries if u.withdraws is None and u.id not in withdrawn), key=lambda u: (u.at, u.id))
    times = [u.at for u in live]  # found by bisection: an action's history may be long, its milestones few
    missed: list[Due] = []
    opens: datetime | None = None
    for due in in_date_order(dues):
        closes = end_of_day(due.on, tz)
        if closes > now:
            break
        first = 0 if opens is None else bisect_left(times, opens)  # the first live update in the window
        was_blue = first > 0 and live[first - 1].rag is Rag.BLUE  # as the window opened
        reported = first < len(times) and times[first] < closes
        if not reported and not was_blue:
            missed.append(due)
        opens = closes
    return tuple(missed)


def next_due(dues: Sequence[Due], now: datetime, tz: ZoneInfo = LONDON) -> Due | None:
    """The earliest milestone that has not yet passed."""
    return min((d for d in dues if not d.passed(now, tz)), key=lambda d: d.on, default=None)


def due_soon_days(today: date, next_bmg: date | None, days: int = 30) -> int:
    """How far ahead "due soon" looks: the next `days` days or up to the next BMG, whichever is later."""
    return max(days, (next_bmg - today).days) if next_bmg is not None else days


@dataclass(frozen=True)
class Revision:
    """A revised date the business unit accepted: it replaces the milestone originally due on `replaces`."""

    replaces: date
    due: Due
    agreed: datetime


@dataclass(frozen=True)
class EffectiveMilestone:
    """A milestone as it stands: its due point, and if a revision moved it, where from and when agreed."""

    due: Due
    revised_from: Due | None = None
    agreed: datetime | None = None

    @property
    def original(self) -> Due:
        return self.revised_from or self.due


def effective_milestones(dues: Sequence[Due], revisions: Iterable[Revision]) -> tuple[EffectiveMilestone, ...]:
    """The plan's milestones with accepted revisions applied, in date order.

    Each revision replaces the milestone originally due on its `replaces` date (the latest agreed
    wins); a revision whose milestone is no longer in the plan is ignored. The plan keeps its original
    milestones: this is what overdue and missed reports are measured against.
    """
    latest: dict[date, Revision] = {}
    for revision in sorted(revisions, key=lambda r: r.agreed):
        latest[revision.replaces] = revision
    result: list[EffectiveMilestone] = []
    for due in in_date_order(dues):
        found = latest.get(due.on)
        result.append(EffectiveMilestone(found.due, due, found.agreed) if found else EffectiveMilestone(due))
    return tuple(sorted(result, key=lambda m: m.due.on))


def revised_milestone(
    milestones: Sequence[EffectiveMilestone], proposed_at: datetime, tz: ZoneInfo = LONDON
) -> EffectiveMilestone | None:
    """The milestone a proposed date revises: the next one pending when it was proposed, or if every
    milestone had passed by then, the last one. None for an action with no milestones."""
    ordered = sorted(milestones, key=lambda m: m.due.on)
    pending = [m for m in ordered if not m.due.passed(proposed_at, tz)]
    if pending:
        return pending[0]
    return ordered[-1] if ordered else None


def last_meeting(meetings: Iterable[date], now: datetime, tz: ZoneInfo = LONDON) -> date | None:
    """The latest BMG whose day is over; a meeting today has not happened yet."""
    today = local_today(now, tz)
    return max((m for m in meetings if m < today), default=None)


def next_meeting(meetings: Iterable[date], now: datetime, tz: ZoneInfo = LONDON) -> date | None:
    """The next BMG, today's included."""
    today = local_today(now, tz)
    return min((m for m in meetings if m >= today), default=None)


def is_missing_update(
    history: Iterable[UpdateFacts], meetings: Iterable[date], now: datetime, tz: ZoneInfo = LONDON
) -> bool:
    """No live update since the last BMG (updates made on the meeting day were for that meeting).

    Before the first meeting, an action is missing an update until it has one. A Blue action is
    complete and owes nothing.
    """
    latest = current_update(history)
    if latest is None:
        return True
    if latest.rag is Rag.BLUE:
        return False
    last = last_meeting(meetings, now, tz)
    if last is None:
        return False
    return latest.at < end_of_day(last, tz)
