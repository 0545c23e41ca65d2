"""Adaptive Cards (schema 1.5) built by small functions from plain data.

Text that people wrote (descriptions, comments, names) goes into TextRuns, which Teams shows as
written: no Markdown is interpreted, and the card is built as data and serialised once, so nothing a
user types can change the card's structure. A RAG rating is always its word in a coloured label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot import messages
from bot.rules import Due, Rag, how_long
from bot.updates import NOTE_LIMIT
from bot.views import ActionView, UpdateView

Card = dict[str, Any]


Element = dict[str, Any]

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
RAG_COLOURS = {Rag.RED: "attention", Rag.AMBER: "warning", Rag.GREEN: "good", Rag.BLUE: "accent"}
RAG_WORDS = {Rag.RED: "Red", Rag.AMBER: "Amber", Rag.GREEN: "Green", Rag.BLUE: "Blue (complete)"}


def card(body: Sequence[Element], actions: Sequence[Element] = ()) -> Card:
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": list(body),
        "msteams": {"width": "Full"},
    }
    if actions:
        result["actions"] = list(actions)
    return result


def heading(text: str, subtitle: str | None = None) -> list[Element]:
    elements: list[Element] = [{"type": "TextBlock", "text": text, "size": "Medium", "weight": "Bolder", "wrap": True}]
    if subtitle:
        elements.append({"type": "TextBlock", "text": subtitle, "isSubtle": True, "spacing": "None", "wrap": True})
    return elements


def written(text: str, *, subtle: bool = False, bold: bool = False, spacing: str | None = None) -> Element:
    """Text as a person wrote it: a TextRun, never Markdown."""
    run: Element = {"type": "TextRun", "text": text}
    if subtle:
        run["isSubtle"] = True
    if bold:
        run["weight"] = "Bolder"
    block: Element = {"type": "RichTextBlock", "inlines": [run]}
    if spacing:
        block["spacing"] = spacing
    return block


def rag_label(rag: Rag | None) -> Element:
    if rag is None:
        return {"type": "TextBlock", "text": "No update", "isSubtle": True, "weight": "Bolder", "wrap": True}
    return {"type": "TextBlock", "text": RAG_WORDS[rag], "color": RAG_COLOURS[rag], "weight": "Bolder", "wrap": True}


def rag_word(rag: Rag | None) -> str:
    return RAG_WORDS[rag] if rag else "no update"


def facts(pairs: Sequence[tuple[str, str]]) -> Element:
    return {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in pairs]}


def submit(title: str, verb: str, **data: str) -> Element:
    return {"type": "Action.Submit", "title": title, "data": {"verb": verb, **data}}


def ask_button(said: str) -> Element:
    """A button that asks the bot as if the person had typed `said`."""
    return {"type": "Action.Submit", "title": said, "data": {"verb": "ask", "text": said}}


def due_text(due: Due | None) -> str:
    return due.label if due else "none still to come"


def update_text(update: UpdateView | None) -> str:
    """When (in the partnership's timezone, as the snapshot gives it) and by whom."""
    if update is None:
        return "none yet"
    when = f"{update.at.day} {update.at:%b %Y}"
    return f"{when} by {update.author}" if update.author else when


def late(action: ActionView) -> str:
    """ "since March 2027, 3 weeks" for an overdue action."""
    since = action.overdue_since.label if action.overdue_since else "its last milestone"
    return messages.late(since, how_long(action.overdue_for) if action.overdue_for is not None else None)


def missed_text(action: ActionView) -> str:
    return messages.reports_missing([d.label for d in action.missed])


def notes(action: ActionView) -> list[str]:
    """What needs attention, in words: overdue since when, which reports are missing."""
    found = []
    if action.overdue:
        found.append(f"overdue {late(action)}")
    if action.missed:
        found.append(missed_text(action))
    return found


def flags(action: ActionView) -> str:
    words = [n[0].upper() + n[1:] for n in notes(action)]
    if action.missing:
        words.append("No update since the last BMG")
    return " · ".join(words)


def milestone_labels(action: ActionView) -> str:
    """The milestones as they stand, in date order; a revised one says what it replaced and when agreed."""
    if not action.milestones:
        return ", ".join(d.label for d in action.dues)
    return ", ".join(
        messages.revised_milestone(m.due.label, m.revised_from.label, m.agreed) if m.revised_from else m.due.label
        for m in action.milestones
    )


def action_summary(action: ActionView) -> list[Element]:
    """One action in a list: reference, what it is, its RAG, and what is next."""
    columns = {
        "type": "ColumnSet",
        "separator": True,
        "spacing": "Medium",
        "columns": [
            {
                "type": "Column",
                "width": "auto",
                "items": [{"type": "TextBlock", "text": action.ref, "weight": "Bolder"}],
            },
            {"type": "Column", "width": "stretch", "items": [written(action.description)]},
            {"type": "Column", "width": "auto", "items": [rag_label(action.rag)]},
        ],
        "selectAction": submit("Show", "show", ref=action.ref),
    }
    details = [
        ("Lead", action.lead),
        ("Next milestone", due_text(action.next_due)),
        ("Last update", update_text(action.latest)),
    ]
    status = flags(action)
    if status:
        details.append(("Attention", status))
    return [columns, facts(details)]


def action_list(title: str, subtitle: str, actions: Sequence[ActionView], more: bool) -> Card:
    body = heading(title, subtitle)
    for action in actions:
        body.extend(action_summary(action))
    return card(body, [submit("Show more", "more")] if more else [])


def execute(title: str, verb: str, **data: str) -> Element:
    """Action.Execute (the card is answered in place), with Action.Submit for clients without it."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"verb": verb, **data},
        "fallback": {"type": "Action.Submit", "title": title, "data": {"verb": verb, **data}},
    }


def action_detail(action: ActionView, recent: int = 3, notice: str | None = None) -> Card:
    body = heading(f"Action {action.ref}", action.objective)
    if notice:
        body.append({"type": "TextBlock", "text": notice, "color": "good", "weight": "Bolder", "wrap": True})
    body.append(written(action.description, spacing="Medium"))
    body.append(
        {
            "type": "ColumnSet",
            "columns": [
                {"type": "Column", "width": "auto", "items": [{"type": "TextBlock", "text": "Current RAG:"}]},
                {"type": "Column", "width": "stretch", "items": [rag_label(action.rag)]},
            ],
        }
    )
    pairs = [("Lead", action.lead), ("Success measure", action.measure.replace("\n", "; ") or "not given")]
    pairs.append(("Milestones", milestone_labels(action) or "none"))
    pairs.append(("Next milestone", due_text(action.next_due)))
    if action.proposed:
        pairs.append(("Proposed new date", f"{action.proposed.label} (for the BMG to agree)"))
    if flags(action):
        pairs.append(("Attention", flags(action)))
    body.append(facts(pairs))
    live = [u for u in action.history if not u.withdrawn]
    body.extend(history_items(live[-recent:][::-1], "Latest updates" if live else "No updates yet"))
    buttons = [execute("Update", "update_form", ref=action.ref)]
    if len(action.history) > recent:
        buttons.append(submit("Full history", "history", ref=action.ref))
    return card(body, buttons)


def update_form(
    action: ActionView, values: Mapping[str, Any], problem: str | None = None, confirm: str | None = None
) -> Card:
    """The Update form: rating, note, optional revised date. Values already typed are kept."""
    body = heading(f"Update {action.ref}", action.description)
    if problem:
        body.append({"type": "TextBlock", "text": problem, "color": "attention", "wrap": True})
    body.append(facts([("Success measure", action.measure.replace("\n", "; ") or "not given")]))
    rag_choices = [{"title": RAG_WORDS[r], "value": r.value} for r in Rag]
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "rag",
            "label": "RAG rating",
            "style": "expanded",
            "isRequired": True,
            "errorMessage": "Choose a rating",
            "choices": rag_choices,
            "value": str(values.get("rag") or (action.rag.value if action.rag else "")),
        }
    )
    body.append(
        {
            "type": "Input.Text",
            "id": "note",
            "label": "Progress note (for Red or Amber: why, and what is being done; for Blue: the evidence)",
            "isMultiline": True,
            "maxLength": NOTE_LIMIT,
            "value": str(values.get("note") or ""),
        }
    )
    body.append(
        {
            "type": "Input.Date",
            "id": "revised",
            "label": "Revised date, if the milestone will move",
            "value": str(values.get("revised") or ""),
        }
    )
    buttons = [
        execute(
            "Save anyway" if confirm else "Save",
            "save_update",
            ref=action.ref,
            **({"confirmed": confirm} if confirm else {}),
        )
    ]
    return card(body, buttons)


def updated(action: ActionView, update: Any, author: str, tz: Any, again: bool = False) -> Card:
    """The action card again, after an update: its new rating on top, who updated it and when.

    `again`: the same card submission was delivered before, so the update is already in the history read."""
    at = update.created_at.astimezone(tz)
    entry = UpdateView(rag=update.rag, comment=update.comment, author=author, at=at)
    fresh = replace(
        action,
        rag=update.rag,
        latest=entry,
        history=action.history if again else (*action.history, entry),
        missing=False,
        overdue=action.overdue and update.rag is not Rag.BLUE,
        overdue_since=action.overdue_since if update.rag is not Rag.BLUE else None,
        overdue_for=action.overdue_for if update.rag is not Rag.BLUE else None,
    )
    return action_detail(fresh, notice=f"Updated by {author} at {at:%H:%M} on {at.day} {at:%b %Y}")


def history_items(updates: Sequence[UpdateView], title: str) -> list[Element]:
    items: list[Element] = [{"type": "TextBlock", "text": title, "weight": "Bolder", "spacing": "Medium"}]
    for update in updates:
        items.append(
            {
                "type": "ColumnSet",
                "separator": True,
                "columns": [
                    {"type": "Column", "width": "auto", "items": [rag_label(update.rag)]},
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            written(update_text(update) + (" (withdrawn)" if update.withdrawn else ""), subtle=True)
                        ],
                    },
                ],
            }
        )
        if update.comment:
            items.append(written(update.comment, spacing="Small"))
    return items


def action_history(action: ActionView) -> Card:
    body = heading(f"History of {action.ref}", action.description)
    body.extend(history_items(action.history[::-1], f"{len(action.history)} update(s), newest first"))
    return card(body)


def notice(title: str, lines: Sequence[str] = (), actions: Sequence[Element] = ()) -> Card:
    body = heading(title)
    body.extend({"type": "TextBlock", "text": line, "wrap": True} for line in lines)
    return card(body, actions)
