"""Everything the bot says in words, in one place, so the wording stays consistent and tests can use it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime


def _ask(admins: Sequence[str], otherwise: str = "the business unit") -> str:
    """Whom to ask: the business unit's people by name, where the plan names them."""
    return " or ".join(admins) if admins else otherwise


def day(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


OFFERS = {  # what the bot offers for a question it did not understand: (what to say, what it does); never a change
    "my_actions": ("my actions", "the actions you lead"),
    "overdue": ("overdue", "actions whose last milestone has passed"),
    "due_soon": ("due soon", "milestones coming up"),
    "by_rag": ("reds and ambers", "actions by RAG rating"),
    "no_update": ("no update", "actions with no update since the last BMG"),
    "missed_reports": ("missed reports", "milestones that passed with no report"),
    "show": ("show {ref}", "one action in full"),
    "history": ("history {ref}", "all the updates of an action"),
    "subgroup_actions": ("actions for a sub-group", "a sub-group's actions"),
    "next_bmg": ("next BMG", "when the next meeting is"),
    "overview": ("plan status", "the whole plan at a glance"),
    "summary_preview": ("summary preview", "what the channel gets before the BMG"),
    "help": ("help", "everything I can do"),
    "paper": ("BMG paper", "the Word paper for the meeting"),
}


def help_lines(ref: str, group: str, admin: bool) -> list[tuple[list[str], str]]:
    """What help lists: things to say (each understood as it is written), and what they do."""
    lines = [
        (["my actions"], "the actions you lead, with their RAG and next milestone"),
        (["overdue", "due soon", "due before the next BMG"], "by milestone; overdue says since when"),
        (["reds", "reds and ambers", "complete", "no update", "missed reports"], "by rating or by what is missing"),
        (["plan status"], "the whole plan at a glance, with a row per sub-group"),
        ([f"show {ref}", f"history {ref}"], "one action in full, or all its updates"),
        ([f"actions for {group}", f"overdue for {group}"], "a sub-group's actions (abbreviations such as L&I work)"),
        (["next BMG"], "when the next meeting is and what you still owe"),
        ([f"{ref} amber: why, and what is being done"], "post an update in one message (or just say update)"),
        (["undo"], "withdraw your last update within 10 minutes"),
        ([f"redact {ref}"], "replace the text of a note of yours that identifies a child or family"),
        (
            ["summary preview", "snooze"],
            "what your sub-group's channel will get before the BMG; no reminders this cycle",
        ),
    ]
    if admin:
        lines += [
            ([f"link this channel to {group}"], "in a channel, make it that sub-group's channel"),
            (["set BMG 2026-12-03", "BMG paper"], "add a meeting; the Word paper for the meeting"),
            ([f"accept {ref}'s new date"], "accept a revised date proposed for the BMG"),
        ]
    return lines


def offer(intent: str, ref: str) -> tuple[str, str] | None:
    found = OFFERS.get(intent)
    return (found[0].format(ref=ref), found[1]) if found else None


def not_understood(text: str, offers: Sequence[str]) -> str:
    shown = text if len(text) <= 60 else text[:57] + "..."
    if not offers:
        return f'Sorry, I did not understand "{shown}".'
    return f'Sorry, I did not understand "{shown}". Did you mean: {either(list(offers))}? Or say help.'


def either(words: Sequence[str]) -> str:
    """ "Red", "Red or Amber", "Red, Amber or Green"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


SMALL_TALK = {
    "greeting": "Hello {name}! Ask me about your actions (my actions, overdue) or post an update, e.g. 4.2 amber: why.",
    "thanks": "You're welcome, {name}.",
    "goodbye": "Bye for now, {name}.",
    "acknowledge": "Righto. Say help whenever you need me.",
}


def small_talk(kind: str, name: str) -> str:
    return SMALL_TALK[kind].format(name=name)


def unknown_person(admins: Sequence[str], partnership: str) -> str:
    who = _ask(admins, f"{partnership}'s business unit")
    return (
        f"Hello! I don't know you yet, so I can't show you {partnership}'s plan. "
        f"Please ask {who} to add you (with the email address you use in Teams)."
    )


def unknown_action(ref: str, partnership: str, plan: str) -> str:
    return f"I can't find action {ref} in {partnership}'s {plan}. References look like 4.2; try 'my actions'."


def which_subgroup(names: Sequence[str]) -> str:
    return f"Which sub-group? I know: {', '.join(names)}."


def unknown_subgroup(name: str, nearest: Sequence[str]) -> str:
    text = f'I don\'t know a sub-group called "{name}".'
    return f"{text} Did you mean {either(list(nearest))}?" if nearest else text


ASKED_FOR_A_SUBGROUP = {  # a question asked again of a sub-group the bot knows: what its button says
    "overdue": "overdue for {group}",
    "due_soon": "due soon for {group}",
    "by_rag": "{rags} for {group}",
    "no_update": "no update for {group}",
    "missed_reports": "missed reports for {group}",
    "overview": "plan status for {group}",
    "summary_preview": "summary preview for {group}",
}
PLURAL_RAGS = {"red": "reds", "amber": "ambers", "green": "greens", "blue": "complete"}


def asked_for_subgroup(intent: str, group: str, rags: Sequence[str] = ()) -> str:
    """ "overdue for CDOP", "reds and ambers for CDOP"; "actions for CDOP" for anything else."""
    said = " and ".join(PLURAL_RAGS[r] for r in rags) or "reds"
    return ASKED_FOR_A_SUBGROUP.get(intent, "actions for {group}").format(group=group, rags=said)


def nothing(what: str, whose: str) -> str:
    return f"Nothing {what} for {whose}."


def no_more() -> str:
    return "There is nothing more to show; ask again, e.g. 'my actions' or 'overdue'."


def whole_plan_is_for_admins() -> str:
    return "Only the business unit sees the whole plan at once; here are yours."


def no_meeting(partnership: str) -> str:
    return f"No BMG meeting is set for {partnership}; the business unit can add one."


def next_meeting(when: date, days: int, last: date | None) -> str:
    soon = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
    text = f"The next BMG is on {day(when)}, {soon}."
    return text + (f" The last one was on {day(last)}." if last else "")


def missing_before_meeting(refs: Sequence[str]) -> str:
    if not refs:
        return "All your actions have an update since the last BMG."
    return f"{len(refs)} of your actions have no update since the last BMG: {', '.join(refs)}."


def link_needs_channel() -> str:
    return "Say this in the sub-group's channel (with @Plan Tracker) to link that channel to it."


def link_needs_admin(admins: Sequence[str]) -> str:
    who = _ask(admins)
    return f"Only the business unit can link channels; please ask {who}."


def linked(channel: str, subgroup: str) -> str:
    return (
        f"Linked: this channel ({channel}) is now {subgroup}'s channel. Questions here are about "
        f"{subgroup} unless you say otherwise, and its BMG summaries will be posted here."
    )


def apology() -> str:
    return "Sorry, something went wrong on my side and I couldn't finish that. Please try again in a minute."


def welcome(partnership: str) -> str:
    return f"Hello! I keep track of {partnership}'s business plan. Say help to see what I can do."


def welcome_team(partnership: str) -> str:
    return (
        f"Hello! I keep track of {partnership}'s business plan. In a sub-group's channel, the business "
        "unit can say @Plan Tracker link this channel to <sub-group>; then ask me there, e.g. "
        "@Plan Tracker overdue."
    )


def not_yours(ref: str, who: str) -> str:
    return f"Only {who} can update {ref}; nothing was saved."


def which_rag(word: str | None) -> str:
    known = "Red, Amber, Green or Blue (complete)"
    if word:
        return f"I don't know the rating '{word}'. Which is it: {known}?"
    return f"Which rating: {known}?"


def saved(ref: str, rag_word: str, revised: str | None) -> str:
    proposal = f" The revised date {revised} is recorded as a proposal for the BMG." if revised else ""
    return f"Saved: {ref} is now {rag_word}.{proposal} (Say undo within 10 minutes to withdraw it.)"


def already_saved(ref: str) -> str:
    return f"That update to {ref} was already saved."


def undone(ref: str) -> str:
    return f"Withdrawn: your last update to {ref} no longer counts (it stays in the history as withdrawn)."


def nothing_to_undo() -> str:
    return "There is no update of yours from the last 10 minutes to withdraw."


def choose_action(count: int) -> str:
    return (
        "Which action? Choose one of yours, or type its reference (e.g. 4.2)."
        if count
        else (
            "You don't lead any actions, so there is nothing for you to update. Type a reference if you update "
            "for the business unit."
        )
    )


def ask_rating(ref: str) -> str:
    return f"How is {ref} going? Red, Amber, Green, or Blue (complete)."


def ask_note(ref: str, rag_word: str, measure: str) -> str:
    if rag_word == "Blue (complete)":
        return f"What is the evidence that {ref} is complete, against its success measure ({measure})?"
    if rag_word in {"Red", "Amber"}:
        return f"Why is {ref} {rag_word}, and what is being done about it?"
    return f"A short note on progress for {ref} (or skip)."


def ask_revised(ref: str) -> str:
    return f"Is there a revised date for {ref}'s next milestone? e.g. March 2027 (or skip)."


def bad_date(text: str) -> str:
    return f"I couldn't read '{text}' as a date; write e.g. March 2027 or 2027-03-15, or skip."


def confirm(ref: str, rag_word: str, note: str, revised: str | None) -> str:
    extra = f"; proposed new date {revised}" if revised else ""
    return f"Save this update? {ref}: {rag_word}{extra}. Note: {note or '(none)'}"


def sensitive_warning(kinds: list[str]) -> str:
    found = " and ".join(kinds)
    return (
        f"Your note seems to contain {found}. BMG summaries are shared in sub-group channels, so a note "
        "must not identify a child or family. Save it as it is, or edit it?"
    )


def post_this(ref: str, rag_word: str | None) -> str:
    rating = f", {rag_word}" if rag_word else ""
    return f"Post this as an update to {ref}{rating}?"


def not_posted() -> str:
    return "Not posted; nothing was saved."


def dropped(ref: str | None) -> str:
    what = f"your unfinished update to {ref}" if ref else "your unfinished update"
    return f"(I've set aside {what}; nothing was saved. Say update to start again.)"


def continued_privately() -> str:
    return "I've sent you a private message to finish that; nothing is saved until you do."


def private_chat_needed() -> str:
    return (
        "I couldn't message you privately, so nothing was saved: please open a 1:1 chat with Plan Tracker "
        "and post the update there."
    )


def cancelled() -> str:
    return "Cancelled; nothing was saved."


def expired(ref: str | None, minutes: int) -> str:
    what = f"your update of {ref}" if ref else "your update"
    return (
        f"Sorry, {what} expired after {minutes} minutes without a reply; nothing was saved. Say update to start again."
    )


def choose_from(options: str) -> str:
    return f"Please choose {options}, or say back or cancel."


def meetings_are_for_admins(admins: Sequence[str]) -> str:
    who = _ask(admins)
    return f"Only the business unit sets BMG dates; please ask {who}."


def meeting_set(when: date) -> str:
    return f"Added: a BMG on {day(when)}. Reminders and summaries will be timed from it."


def meeting_exists(when: date) -> str:
    return f"There is already a BMG on {day(when)}."


def bad_meeting_date(text: str) -> str:
    return f"I couldn't read '{text}' as a date; write it like set BMG 2026-12-03."


def snoozed(when: date) -> str:
    return (
        f"Snoozed: no more reminders before the BMG on {day(when)}. Your actions still show in the summary "
        "as needing an update."
    )


def already_snoozed(when: date) -> str:
    return f"You had already snoozed, or been reminded, for the BMG on {day(when)}."


def paper_ready() -> str:
    return "Here is the BMG paper, with every update posted so far; the link works for an hour."


def paper_is_for_admins(admins: Sequence[str]) -> str:
    who = _ask(admins)
    return f"The BMG paper is prepared by the business unit; please ask {who}."


def and_list(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return f"{', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else "".join(items)


def late(since: str, how_long: str | None) -> str:
    """How late an overdue action is: "since March 2027, 3 weeks"."""
    return f"since {since}, {how_long}" if how_long else f"since {since}"


def overdue(since: str | None, how_long: str | None) -> str:
    return f"Overdue {late(since, how_long)}" if since else "Overdue"


def reports_missing(labels: Sequence[str]) -> str:
    """ "June 2026 report missing", "June 2026 and October 2026 reports missing"."""
    return f"{and_list(labels)} {'reports' if len(labels) > 1 else 'report'} missing"


def missed_reports(entries: Sequence[str]) -> str:
    return "Missed reports: " + "; ".join(entries)


def revised_milestone(label: str, was: str, agreed: datetime | None) -> str:
    when = f", agreed {agreed.day} {agreed:%B %Y}" if agreed else ""
    return f"{label} (revised from {was}{when})"


def dates_are_for_admins(admins: Sequence[str]) -> str:
    who = _ask(admins)
    return f"Only the business unit accepts revised dates; please ask {who}."


def which_action_to_accept() -> str:
    return "Which action's proposed date? Say e.g. accept the new date for 4.2."


def no_pending_proposal(ref: str) -> str:
    return f"There is no proposed date for {ref} waiting to be accepted; its milestones stand as they are."


def no_milestone_to_revise(ref: str) -> str:
    return f"{ref} has no milestones, so there is no date for a proposal to replace."


def date_accepted(ref: str, due: str, was: str) -> str:
    return (
        f"Accepted: {ref}'s {was} milestone is now {due}. Overdue and missed reports now count from the new date; "
        "the plan keeps the original milestone."
    )


def date_already_accepted(ref: str, due: str, by: str, when: datetime) -> str:
    return f"{ref}'s proposed date {due} was already accepted, by {by} on {when.day} {when:%B %Y}; nothing changed."


def already_withdrawn(ref: str) -> str:
    return f"Already withdrawn: your last update to {ref} no longer counts; nothing more was withdrawn."


def already_answered() -> str:
    """An answer to a question arrived twice (Teams may resend one): the first was taken."""
    return "I already have that answer; nothing changed."


def already_done(summary: str) -> str:
    """The same message arrived twice (Teams may resend one): the first did it."""
    return f"That was already done ({summary}); nothing changed."


def already_linked(channel: str, subgroup: str) -> str:
    return f"This channel ({channel}) is already {subgroup}'s channel; nothing changed."


def which_action_to_redact() -> str:
    return "Which action's note? Say e.g. redact 4.2, or redact my last update on 4.2."


def redaction_refused(ref: str, admins: Sequence[str]) -> str:
    who = _ask(admins)
    return (
        f"Only the business unit, or the person who wrote a note, can redact it; you have no notes on {ref} to "
        f"redact. Please ask {who}."
    )


def nothing_to_redact(ref: str, mine: bool) -> str:
    whose = "of yours " if mine else ""
    return f"There is no note {whose}on {ref} to redact (notes already redacted are not listed)."


def which_note(ref: str, count: int) -> str:
    return f"{ref} has {count} notes you can redact. Which one? Choose it, or type its number."


def ask_redaction_reason(ref: str, when: str) -> str:
    return (
        f"Why should the note of {when} on {ref} be redacted? Your reason is recorded. Its text will be replaced "
        'by "[note redacted]" for good; the update, its rating and who posted it stay in the history.'
    )


def bad_choice(count: int) -> str:
    return f"Please choose a note, or type a number from 1 to {count}; or say cancel."


def redacted(ref: str, when: str) -> str:
    return (
        f'Redacted: the note of {when} on {ref} now reads "[note redacted]". The update, its rating, who posted it, '
        "who redacted it, when and why stay on record."
    )


def already_redacted(ref: str, when: str) -> str:
    return f"The note of {when} on {ref} was already redacted; nothing changed."


def redaction_cancelled() -> str:
    return "Cancelled; the note was not redacted."
