"""Adaptive Cards (schema 1.5) built by small functions from plain data.

Text that people wrote (descriptions, comments, names) goes into TextRuns, which Teams shows as
written: no Markdown is interpreted, and the card is built as data and serialised once, so nothing a
user types can change the card's structure. A RAG rating is always its word in a coloured label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.rules import Due, Rag
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


def due_text(due: Due | None) -> str:
    return due.label if due else "none still to come"


def update_text(update: UpdateView | None) -> str:
    """When (in the partnership's timezone, as the snapshot gives it) and by whom."""
    if update is None:
        return "none yet"
    when = f"{update.at.day} {update.at:%b %Y}"
    return f"{when} by {update.author}" if update.author else when


def flags(action: ActionView) -> str:
    words = []
    if action.overdue:
        words.append("Overdue")
    if action.missing:
        words.append("No update since the last BMG")
    return " · ".join(words)


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


def action_detail(action: ActionView, recent: int = 3) -> Card:
    body = heading(f"Action {action.ref}", action.objective)
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
    pairs.append(("Milestones", ", ".join(d.label for d in action.dues) or "none"))
    pairs.append(("Next milestone", due_text(action.next_due)))
    if flags(action):
        pairs.append(("Attention", flags(action)))
    body.append(facts(pairs))
    body.extend(history_items(action.history[-recent:][::-1], "Latest updates" if action.history else "No updates yet"))
    return card(body, [submit("Full history", "history", ref=action.ref)] if len(action.history) > recent else [])


def history_items(updates: Sequence[UpdateView], title: str) -> list[Element]:
    items: list[Element] = [{"type": "TextBlock", "text": title, "weight": "Bolder", "spacing": "Medium"}]
    for update in updates:
        items.append(
            {
                "type": "ColumnSet",
                "separator": True,
                "columns": [
                    {"type": "Column", "width": "auto", "items": [rag_label(update.rag)]},
                    {"type": "Column", "width": "stretch", "items": [written(update_text(update), subtle=True)]},
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
