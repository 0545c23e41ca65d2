"""One handler per intent, registered in one table. Each reads the plan snapshot and returns a Reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

from bot import cards, messages, summaries
from bot.cards import Card
from bot.language import Intent, IntentName, Scope, nearest
from bot.overview import overview, overview_card, overview_text
from bot.refusals import refused
from bot.rules import due_soon_days
from bot.updates import Draft
from bot.views import ActionView, Snapshot, SubgroupView, due_by, for_channel, missed, missing, overdue, with_rag

PAGE_SIZE = 8


@dataclass(frozen=True)
class Asker:
    person_id: int
    name: str
    is_admin: bool


@dataclass(frozen=True)
class Listing:
    """A list shown a page at a time; kept in conversation state so that "more" can go on."""

    title: str
    subtitle: str
    refs: tuple[str, ...]
    shown: int

    def stored(self) -> dict[str, str | int]:
        """As conversation state keeps it: the references as one text, so that a long list (1,300
        overdue actions on a council-wide plan) is read, compared and written as one value, not one a
        reference, on every turn of the conversation."""
        return {"title": self.title, "subtitle": self.subtitle, "refs": "\n".join(self.refs), "shown": self.shown}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Listing:
        """A listing as kept (its references as one text, or, as kept before, a list of them)."""
        refs = stored["refs"]
        return cls(
            stored["title"],
            stored["subtitle"],
            tuple(refs.split("\n") if refs else ()) if isinstance(refs, str) else tuple(refs),
            stored["shown"],
        )


@dataclass(frozen=True)
class Reply:
    text: str
    card: Card | None = None
    listing: Listing | None = None


LinkChannel = Callable[[SubgroupView], Awaitable[str]]


class UpdateDesk(Protocol):
    """Where writes happen (bot.desk.Desk): given to the handlers that change something."""

    async def submit(self, draft: Draft, confirm: bool = False) -> Reply | None: ...

    async def undo(self) -> Reply: ...

    async def set_meeting(self, text: str) -> Reply: ...

    async def accept_date(self, ref: str) -> Reply: ...

    async def snooze(self) -> Reply: ...

    async def redact(self, ref: str, mine: bool) -> Reply | None: ...

    async def paper(self) -> Reply: ...


@dataclass(frozen=True)
class Ask:
    intent: Intent
    snapshot: Snapshot
    asker: Asker
    channel_subgroup: SubgroupView | None = None
    listing: Listing | None = None
    link_channel: LinkChannel | None = None  # set in a channel conversation
    desk: UpdateDesk | None = None


@dataclass(frozen=True)
class Selection:
    actions: list[ActionView]
    whose: str
    note: str | None = None


def select(ask: Ask, *, default_all_for_admins: bool) -> Selection | Reply:
    """Whose actions the question is about: a named sub-group, the channel's, the asker's, or all."""
    snap, intent, asker = ask.snapshot, ask.intent, ask.asker
    if intent.names_unknown_subgroup:
        return unknown_subgroup(ask)
    if intent.scope is Scope.SUBGROUP and intent.subgroup:
        group = snap.subgroup(intent.subgroup)
        if group is not None:
            return Selection(snap.for_subgroup(group.id), group.name)
    if intent.scope is Scope.DEFAULT and ask.channel_subgroup is not None:
        return Selection(snap.for_subgroup(ask.channel_subgroup.id), ask.channel_subgroup.name)
    wants_all = intent.scope is Scope.ALL or (intent.scope is Scope.DEFAULT and default_all_for_admins)
    if wants_all and asker.is_admin:
        return Selection(list(snap.actions), f"the whole of {snap.plan}")
    note = messages.whole_plan_is_for_admins() if intent.scope is Scope.ALL else None
    return Selection(snap.led_by(asker.person_id), "you", note)


def unknown_subgroup(ask: Ask) -> Reply:
    """A question about a sub-group the bot does not know: said so, never answered for someone else,
    with the same question for the nearest sub-groups it knows as buttons."""
    intent, snap = ask.intent, ask.snapshot
    names = nearest(intent.unmatched, [(g.name, g.aliases) for g in snap.subgroups])
    text = messages.unknown_subgroup(intent.unmatched, names)
    rags = [r.value for r in intent.rags]
    buttons = [cards.ask_button(messages.asked_for_subgroup(intent.name.value, name, rags)) for name in names]
    return Reply(text, cards.notice(text, (), buttons))


def listing_reply(title: str, subtitle: str, actions: Sequence[ActionView], empty: str) -> Reply:
    if not actions:
        return Reply(empty)
    listing = Listing(title, subtitle, tuple(a.ref for a in actions), 0)
    return page(listing, list(actions))


def page(listing: Listing, actions: Sequence[ActionView]) -> Reply:
    start = listing.shown
    shown = actions[start : start + PAGE_SIZE]
    end = start + len(shown)
    more = end < len(listing.refs)
    counter = f"{start + 1}-{end} of {len(listing.refs)}" if len(listing.refs) > PAGE_SIZE else str(len(listing.refs))
    subtitle = f"{listing.subtitle} ({counter})"
    text = f"{listing.title} - {subtitle}: " + "; ".join(
        f"{a.ref} {cards.rag_word(a.rag)}" + (f" ({'; '.join(cards.notes(a))})" if cards.notes(a) else "")
        for a in shown
    )
    card = cards.action_list(listing.title, subtitle, shown, more)
    return Reply(text, card, replace(listing, shown=end))


Pick = Callable[[Ask, list[ActionView]], list[ActionView]]


def _list_question(
    what: str, title: Callable[[str], str], pick: Pick, admins_see_all: bool
) -> Callable[[Ask], Awaitable[Reply]]:
    """A handler for "<what> for <whose>" questions: select whose actions, then pick among them."""

    async def handle(ask: Ask) -> Reply:
        chosen = select(ask, default_all_for_admins=admins_see_all)
        if isinstance(chosen, Reply):
            return chosen
        actions = pick(ask, chosen.actions)
        reply = listing_reply(title(chosen.whose), ask.snapshot.plan, actions, messages.nothing(what, chosen.whose))
        return replace(reply, text=f"{chosen.note} {reply.text}") if chosen.note else reply

    return handle


def _due_window(ask: Ask) -> tuple[str, int]:
    """The next 30 days, or up to the next BMG when that is later."""
    snap = ask.snapshot
    today = snap.now.astimezone(snap.tz).date()
    days = due_soon_days(today, snap.next_bmg)
    if snap.next_bmg is not None and (snap.next_bmg - today).days >= days:
        return f"before the next BMG ({messages.day(snap.next_bmg)})", days
    return f"in the next {days} days", days


async def due_soon(ask: Ask) -> Reply:
    chosen = select(ask, default_all_for_admins=True)
    if isinstance(chosen, Reply):
        return chosen
    window, days = _due_window(ask)
    last_day = ask.snapshot.now.astimezone(ask.snapshot.tz).date() + timedelta(days=days)
    actions = due_by(chosen.actions, last_day)
    reply = listing_reply(
        f"Due {window} for {chosen.whose}", ask.snapshot.plan, actions, messages.nothing(f"due {window}", chosen.whose)
    )
    return replace(reply, text=f"{chosen.note} {reply.text}") if chosen.note else reply


async def by_rag(ask: Ask) -> Reply:
    """Actions by current rating; several ratings in one question combine ("reds and ambers")."""
    rags = ask.intent.rags
    assert rags
    words = messages.either([cards.RAG_WORDS[r] for r in rags])
    handler = _list_question(
        f"rated {words}", lambda whose: f"{words} actions for {whose}", lambda a, acts: with_rag(acts, *rags), True
    )
    return await handler(ask)


async def subgroup_actions(ask: Ask) -> Reply:
    """A named sub-group's actions; unnamed, the channel's sub-group's, or in a chat the asker's own."""
    snap = ask.snapshot
    if ask.intent.names_unknown_subgroup:
        return unknown_subgroup(ask)
    group = snap.subgroup(ask.intent.subgroup) if ask.intent.subgroup else ask.channel_subgroup
    if group is None:
        return await my_actions(ask)
    return listing_reply(
        f"Actions for {group.name}", snap.plan, snap.for_subgroup(group.id), messages.nothing("led", group.name)
    )


async def my_actions(ask: Ask) -> Reply:
    mine = ask.snapshot.led_by(ask.asker.person_id)
    return listing_reply(f"Actions you lead, {ask.asker.name}", ask.snapshot.plan, mine, messages.nothing("led", "you"))


async def show(ask: Ask) -> Reply:
    ref = ask.intent.ref or ""
    action = ask.snapshot.action(ref)
    if action is None:
        return Reply(messages.unknown_action(ref, ask.snapshot.partnership, ask.snapshot.plan))
    latest = f"; latest: {action.latest.comment}" if action.latest and action.latest.comment else ""
    text = f"{action.ref} {action.description} - {cards.rag_word(action.rag)}, lead {action.lead}{latest}"
    return Reply(text, cards.action_detail(action))


async def history(ask: Ask) -> Reply:
    if ask.intent.ref is None:
        return Reply("Which action? Say e.g. history 4.2.")
    action = ask.snapshot.action(ask.intent.ref)
    if action is None:
        return Reply(messages.unknown_action(ask.intent.ref, ask.snapshot.partnership, ask.snapshot.plan))
    text = f"History of {action.ref}: " + (
        "; ".join(f"{cards.update_text(u)}: {cards.rag_word(u.rag)} {u.comment}".strip() for u in action.history)
        or "no updates yet"
    )
    return Reply(text, cards.action_history(action))


async def next_bmg(ask: Ask) -> Reply:
    snap = ask.snapshot
    when = snap.next_bmg
    if when is None:
        return Reply(messages.no_meeting(snap.partnership))
    today = snap.now.astimezone(snap.tz).date()
    lines = [messages.next_meeting(when, (when - today).days, snap.last_bmg)]
    lines.append(messages.missing_before_meeting([a.ref for a in missing(snap.led_by(ask.asker.person_id))]))
    return Reply(" ".join(lines), cards.notice("Next BMG", lines))


async def more(ask: Ask) -> Reply:
    if ask.listing is None or ask.listing.shown >= len(ask.listing.refs):
        return Reply(messages.no_more())
    found = [ask.snapshot.action(ref) for ref in ask.listing.refs]
    return page(ask.listing, [a for a in found if a is not None])


async def help_(ask: Ask) -> Reply:
    snap = ask.snapshot
    mine = snap.led_by(ask.asker.person_id)
    groups = snap.groups_of(ask.asker.person_id)
    ref = mine[0].ref if mine else (snap.actions[0].ref if snap.actions else "4.2")
    group = (groups[0] if groups else snap.subgroups[0]).name if snap.subgroups else "CDOP"
    lines = [f"{', '.join(said)} - {what}" for said, what in messages.help_lines(ref, group, ask.asker.is_admin)]
    return Reply("I can answer: " + "; ".join(lines), cards.notice(f"What I can do for you, {ask.asker.name}", lines))


async def unknown(ask: Ask) -> Reply:
    """Not understood: the two or three nearest things the bot can do, each a button that asks it."""
    offered = [messages.offer(name.value, _example_ref(ask)) for name in ask.intent.suggestions]
    offers = [o for o in offered if o is not None]
    text = messages.not_understood(ask.intent.rest or "that", [said for said, _ in offers])
    buttons = [cards.ask_button(said) for said, _ in offers]
    lines = [f"{said} - {what}" for said, what in offers]
    return Reply(text, cards.notice(messages.not_understood(ask.intent.rest or "that", []), lines, buttons))


def _example_ref(ask: Ask) -> str:
    if ask.intent.ref:
        return ask.intent.ref
    mine = ask.snapshot.led_by(ask.asker.person_id)
    return mine[0].ref if mine else (ask.snapshot.actions[0].ref if ask.snapshot.actions else "4.2")


async def plan_overview(ask: Ask) -> Reply:
    """The plan at a glance; a named sub-group's, or in a linked channel that sub-group's."""
    snap = ask.snapshot
    if ask.intent.names_unknown_subgroup:
        return unknown_subgroup(ask)
    group = snap.subgroup(ask.intent.subgroup) if ask.intent.subgroup else None
    if group is None and ask.intent.scope is Scope.DEFAULT:
        group = ask.channel_subgroup
    view = overview(snap, group)
    subtitle = f"{snap.plan}, {messages.day(snap.now.astimezone(snap.tz).date())}"
    return Reply(overview_text(view), overview_card(view, subtitle))


async def small_talk(ask: Ask) -> Reply:
    """Hello, thanks, bye and ok get a short, friendly answer."""
    return Reply(messages.small_talk(ask.intent.name.value, ask.asker.name))


async def link_channel(ask: Ask) -> Reply:
    if ask.link_channel is None:
        return Reply(messages.link_needs_channel())
    if not ask.asker.is_admin:
        refused("linking a channel is for the business unit", person=ask.asker.person_id)
        return Reply(messages.link_needs_admin(ask.snapshot.admins))
    group = ask.snapshot.subgroup(ask.intent.subgroup) if ask.intent.subgroup else None
    if group is None:
        return Reply(messages.which_subgroup([g.name for g in ask.snapshot.subgroups]))
    return Reply(await ask.link_channel(group))


async def update(ask: Ask) -> Reply | None:
    """A one-message update is stored at once; anything missing starts the guided dialog."""
    assert ask.desk is not None
    draft = ask.intent.draft or Draft()
    action = ask.snapshot.action(draft.ref) if draft.ref else None
    may = action is not None and (ask.asker.is_admin or ask.snapshot.may_update(ask.asker.person_id, action))
    if ask.intent.confirm and action is not None and not may:  # perhaps a question, from someone who can't post
        return await show(replace(ask, intent=replace(ask.intent, name=IntentName.SHOW, ref=action.ref)))
    return await ask.desk.submit(draft, confirm=ask.intent.confirm)


async def undo(ask: Ask) -> Reply | None:
    assert ask.desk is not None
    return await ask.desk.undo()


async def summary_preview(ask: Ask) -> Reply:
    """Exactly what would be posted: a sub-group's summary, or (business unit) the exception report."""
    if ask.intent.names_unknown_subgroup:
        return unknown_subgroup(ask)
    snap = for_channel(ask.snapshot)
    meeting = snap.next_bmg
    if meeting is None:
        return Reply(messages.no_meeting(snap.partnership))
    group = snap.subgroup(ask.intent.subgroup) if ask.intent.subgroup else ask.channel_subgroup
    if group is None and not ask.asker.is_admin:
        mine = [g for g in snap.groups_of(ask.asker.person_id) if snap.for_subgroup(g.id)]
        group = mine[0] if mine else None
    if group is None:
        if not ask.asker.is_admin:
            return Reply(messages.which_subgroup([g.name for g in snap.subgroups]))
        return Reply(summaries.exceptions_text(snap, []), summaries.exceptions_card(snap, meeting, []))
    summary = summaries.summary_for(snap, group, meeting)
    chair = snap.people.get(group.chair_id or -1)
    return Reply(summaries.summary_text(summary, {}), summaries.summary_card(summary, chair))


async def set_bmg(ask: Ask) -> Reply:
    assert ask.desk is not None
    if not ask.asker.is_admin:
        refused("setting a BMG is for the business unit", person=ask.asker.person_id)
        return Reply(messages.meetings_are_for_admins(ask.snapshot.admins))
    return await ask.desk.set_meeting(ask.intent.rest)


async def paper(ask: Ask) -> Reply:
    assert ask.desk is not None
    if not ask.asker.is_admin:
        refused("the BMG paper is for the business unit", person=ask.asker.person_id)
        return Reply(messages.paper_is_for_admins(ask.snapshot.admins))
    return await ask.desk.paper()


async def accept_date(ask: Ask) -> Reply:
    """The business unit accepts a proposed revised date: it replaces the milestone it revised."""
    assert ask.desk is not None
    if not ask.asker.is_admin:
        refused("accepting a date is for the business unit", person=ask.asker.person_id)
        return Reply(messages.dates_are_for_admins(ask.snapshot.admins))
    if ask.intent.ref is None:
        return Reply(messages.which_action_to_accept())
    return await ask.desk.accept_date(ask.intent.ref)


async def snooze(ask: Ask) -> Reply:
    assert ask.desk is not None
    return await ask.desk.snooze()


async def redact(ask: Ask) -> Reply | None:
    """The business unit, or a note's author, redacts a note: which (if several), why, then its text goes."""
    assert ask.desk is not None
    if ask.intent.ref is None:
        return Reply(messages.which_action_to_redact())
    return await ask.desk.redact(ask.intent.ref, mine=ask.intent.scope is Scope.MINE)


HANDLERS: dict[IntentName, Callable[[Ask], Awaitable[Reply | None]]] = {
    IntentName.HELP: help_,
    IntentName.MY_ACTIONS: my_actions,
    IntentName.OVERDUE: _list_question(
        "overdue", lambda whose: f"Overdue actions for {whose}", lambda a, acts: overdue(acts), True
    ),
    IntentName.DUE_SOON: due_soon,
    IntentName.BY_RAG: by_rag,
    IntentName.NO_UPDATE: _list_question(
        "missing an update since the last BMG",
        lambda whose: f"No update since the last BMG for {whose}",
        lambda a, acts: missing(acts),
        True,
    ),
    IntentName.SHOW: show,
    IntentName.HISTORY: history,
    IntentName.SUBGROUP_ACTIONS: subgroup_actions,
    IntentName.NEXT_BMG: next_bmg,
    IntentName.LINK_CHANNEL: link_channel,
    IntentName.MORE: more,
    IntentName.UPDATE: update,
    IntentName.UNDO: undo,
    IntentName.SUMMARY_PREVIEW: summary_preview,
    IntentName.SET_BMG: set_bmg,
    IntentName.SNOOZE: snooze,
    IntentName.PAPER: paper,
    IntentName.OVERVIEW: plan_overview,
    IntentName.MISSED_REPORTS: _list_question(
        "with a missed report", lambda whose: f"Missed reports for {whose}", lambda a, acts: missed(acts), True
    ),
    IntentName.ACCEPT_DATE: accept_date,
    IntentName.REDACT: redact,
    IntentName.GREETING: small_talk,
    IntentName.THANKS: small_talk,
    IntentName.GOODBYE: small_talk,
    IntentName.ACKNOWLEDGE: small_talk,
    IntentName.UNKNOWN: unknown,
}


async def answer(ask: Ask) -> Reply | None:
    return await HANDLERS[ask.intent.name](ask)
