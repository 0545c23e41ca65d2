"""What goes before each BMG, as pure functions over the plan snapshot: who is nudged about what,
each sub-group's summary, and the business unit's exception report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot import cards, messages
from bot.cards import Card
from bot.rules import Rag, end_of_day
from bot.views import ActionView, Snapshot, SubgroupView, UpdateView

WORK_START, WORK_END = time(9, 0), time(17, 0)


@dataclass(frozen=True)
class Timetable:
    """When each step falls before a meeting: days before, on working days in working hours."""

    nudge_days: int = 14
    final_nudge_days: int = 7
    summary_days: int = 5

    def due(self, meeting: date, days: int, tz: object) -> datetime:
        """09:00 on the day `days` before the meeting, or the working day before that if it is a weekend."""
        day = meeting - timedelta(days=days)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return datetime.combine(day, WORK_START, tzinfo=tz)  # type: ignore[arg-type]


def in_working_hours(now: datetime, tz: object) -> bool:
    local = now.astimezone(tz)  # type: ignore[arg-type]
    return local.weekday() < 5 and WORK_START <= local.time() < WORK_END


def rag_at(history: tuple[UpdateView, ...], moment: datetime) -> Rag | None:
    """The rating an action had at `moment` (the last BMG), from its live history."""
    earlier = [u for u in history if not u.withdrawn and u.at < moment]
    return earlier[-1].rag if earlier else None


@dataclass(frozen=True)
class Owed:
    """A lead and the actions they owe an update on."""

    person_id: int
    name: str
    actions: tuple[ActionView, ...]


def owed(snapshot: Snapshot) -> list[Owed]:
    """Each lead (a named lead, or a leading sub-group's chair) with actions missing an update."""
    by_person: dict[int, list[ActionView]] = {}
    chairs = {g.id: g.chair_id for g in snapshot.subgroups}
    for action in snapshot.actions:
        if not action.missing:
            continue
        lead = action.lead_person_id or chairs.get(action.lead_subgroup_id or -1)
        if lead is not None:
            by_person.setdefault(lead, []).append(action)
    return [Owed(pid, snapshot.people.get(pid, "?"), tuple(acts)) for pid, acts in sorted(by_person.items())]


def nudge_title(meeting: date, final: bool) -> str:
    return ("Last reminder: " if final else "") + f"updates for the BMG on {meeting:%A} {meeting.day} {meeting:%B}"


def nudge_text(who: Owed, meeting: date, final: bool) -> str:
    """The plain-text version of a nudge: its title, then each action owed with its current RAG."""
    lines = [f"{nudge_title(meeting, final)}, to {who.name}:"]
    lines.extend(f"{a.ref} ({cards.rag_word(a.rag)}): {a.description}" for a in who.actions)
    return "\n".join(lines)


def nudge_card(who: Owed, meeting: date, final: bool) -> Card:
    title = nudge_title(meeting, final)
    lines = [
        f"{who.name.split()[0]}, these actions have no update since the last BMG. A line each is enough, "
        "e.g. 4.2 amber: <why, and what is being done>. Say snooze to skip these reminders this cycle."
    ]
    body = [*cards.heading(title), *({"type": "TextBlock", "text": line, "wrap": True} for line in lines)]
    for action in who.actions:
        body.extend(cards.action_summary(action))
        body.append(
            {"type": "ActionSet", "actions": [cards.execute(f"Update {action.ref}", "update_form", ref=action.ref)]}
        )
    return cards.card(body)


@dataclass(frozen=True)
class SummaryItem:
    action: ActionView
    before: Rag | None  # at the last BMG


@dataclass(frozen=True)
class Summary:
    subgroup: SubgroupView
    meeting: date
    items: tuple[SummaryItem, ...]

    @property
    def counts(self) -> Counter[str]:
        return Counter(cards.rag_word(i.action.rag) for i in self.items)

    @property
    def overdue(self) -> list[ActionView]:
        return [i.action for i in self.items if i.action.overdue]

    @property
    def missing(self) -> list[ActionView]:
        return [i.action for i in self.items if i.action.missing]

    @property
    def missed(self) -> list[ActionView]:
        return [i.action for i in self.items if i.action.missed]

    @property
    def proposed(self) -> list[ActionView]:
        return [i.action for i in self.items if i.action.proposed]


def summary_for(snapshot: Snapshot, subgroup: SubgroupView, meeting: date) -> Summary:
    since = end_of_day(snapshot.last_bmg, snapshot.tz) if snapshot.last_bmg else None
    items = tuple(
        SummaryItem(a, rag_at(a.history, since) if since else None) for a in snapshot.for_subgroup(subgroup.id)
    )
    return Summary(subgroup, meeting, items)


def change(item: SummaryItem) -> str:
    now, before = cards.rag_word(item.action.rag), cards.rag_word(item.before)
    return f"{before} to {now}" if now != before else f"still {now}"


def summary_text(summary: Summary, leads: dict[int, str]) -> str:
    """The plain-text version (and the card's fallback)."""
    counts = ", ".join(f"{n} {word}" for word, n in sorted(summary.counts.items()))
    lines = [
        f"{summary.subgroup.name}: summary for the BMG on {summary.meeting:%A} {summary.meeting.day} "
        f"{summary.meeting:%B %Y}. {len(summary.items)} actions: {counts}."
    ]
    for item in summary.items:
        note = item.action.latest.comment if item.action.latest else ""
        by = f" ({item.action.latest.author})" if item.action.latest and item.action.latest.author else ""
        lines.append(f"{item.action.ref} {change(item)}: {note}{by}".rstrip(": "))
    if summary.overdue:
        lines.append("Overdue: " + "; ".join(f"{a.ref} {cards.late(a)}" for a in summary.overdue))
    if summary.missed:
        lines.append(missed_line(summary.missed))
    if summary.missing:
        lines.append("No update since the last BMG: " + ", ".join(a.ref for a in summary.missing))
    if summary.proposed:
        lines.append(
            "Proposed date changes: "
            + ", ".join(f"{a.ref} to {a.proposed.label}" for a in summary.proposed if a.proposed)
        )
    return "\n".join(lines)


def missed_line(actions: list[ActionView]) -> str:
    """ "Missed reports: 4.2: June 2026 report missing; 5.1: ..." """
    return messages.missed_reports([f"{a.ref}: {cards.missed_text(a)}" for a in actions])


def summary_card(summary: Summary, chair: str | None) -> Card:
    meeting = summary.meeting
    body = cards.heading(
        f"{summary.subgroup.name}: before the BMG on {meeting:%A} {meeting.day} {meeting:%B %Y}",
        f"{len(summary.items)} actions",
    )
    counts = summary.counts
    body.append(
        {
            "type": "Chart.Donut",
            "title": "RAG",
            "data": [{"legend": word, "value": n} for word, n in sorted(counts.items())],
            "fallback": cards.facts([(word, str(n)) for word, n in sorted(counts.items())]),
        }
    )
    for item in summary.items:
        body.extend(cards.action_summary(item.action))
        facts = [("Since the last BMG", change(item))]
        if item.action.proposed:
            milestones = ", ".join(d.label for d in item.action.dues) or "none"
            facts.append(("Proposed new date", f"{item.action.proposed.label} (milestones: {milestones})"))
        body.append(cards.facts(facts))
        if item.action.latest and item.action.latest.comment:
            body.append(cards.written(item.action.latest.comment, subtle=True))
    if summary.missed:
        body.append({"type": "TextBlock", "text": missed_line(summary.missed), "wrap": True, "color": "warning"})
    if summary.missing:
        who = f" {chair}, please" if chair else ""
        body.append(
            {
                "type": "TextBlock",
                "text": f"No update since the last BMG: {', '.join(a.ref for a in summary.missing)}.{who} update "
                "these before the meeting.",
                "wrap": True,
                "color": "warning",
            }
        )
    return cards.card(body)


MISSED = "Missed reports"


def listed(title: str, actions: list[ActionView]) -> str:
    """An exception's actions in one line: refs, and for overdue and missed reports, which milestones."""
    if title == "Overdue":
        return ", ".join(f"{a.ref} ({cards.late(a)})" for a in actions)
    if title == MISSED:
        return "; ".join(f"{a.ref}: {cards.missed_text(a)}" for a in actions)
    return ", ".join(a.ref for a in actions)


def exceptions(snapshot: Snapshot) -> dict[str, list[ActionView]]:
    """The whole plan's exception report: what the BMG chair reads first."""
    return {
        "Red": [a for a in snapshot.actions if a.rag is Rag.RED],
        "Amber": [a for a in snapshot.actions if a.rag is Rag.AMBER],
        "Overdue": [a for a in snapshot.actions if a.overdue],
        MISSED: [a for a in snapshot.actions if a.missed],
        "No update since the last BMG": [a for a in snapshot.actions if a.missing],
    }


def exceptions_card(snapshot: Snapshot, meeting: date | None, unlinked: list[str]) -> Card:
    when = f"the BMG on {meeting:%A} {meeting.day} {meeting:%B %Y}" if meeting else "the next BMG"
    body = cards.heading(f"Exception report for {when}", snapshot.plan)
    for title, actions in exceptions(snapshot).items():
        body.append({"type": "TextBlock", "text": f"{title} ({len(actions)})", "weight": "Bolder", "spacing": "Medium"})
        body.append({"type": "TextBlock", "text": listed(title, actions) or "None", "wrap": True})
    if unlinked:
        body.append(
            {
                "type": "TextBlock",
                "text": "No channel linked, so no summary posted for: " + "; ".join(unlinked),
                "wrap": True,
                "color": "warning",
            }
        )
    return cards.card(body)


def exceptions_text(snapshot: Snapshot, unlinked: list[str]) -> str:
    parts = [f"{title}: {listed(title, acts) or 'none'}" for title, acts in exceptions(snapshot).items()]
    if unlinked:
        parts.append("no channel linked for: " + "; ".join(unlinked))
    return "Exception report - " + "; ".join(parts)
