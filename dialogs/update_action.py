"""The guided update: choose one of my actions, choose a RAG, write the note, optionally a revised
date, confirm. `back` and `cancel` work at every step; a dialog left too long says so and ends.

The same dialog finishes one-message updates that lack something ("4.2 amber" with no note, a
rating word it does not know, a note that looks like it names a child): it starts at the first
missing step and asks only for that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.dialogs import Dialog, DialogContext, DialogTurnResult
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot import cards, messages, posting
from bot.cards import CARD_CONTENT_TYPE
from bot.privacy import kinds as sensitive
from bot.rules import Due, Precision, Rag, parse_due
from bot.updates import Draft, note_problem, rag_of, split_revised
from dialogs.turn import Turn
from storage.models import Source

TIMEOUT = timedelta(minutes=30)
STEPS = ("post", "action", "rating", "note", "revised", "sensitive", "confirm")
CANCEL = {"cancel", "stop", "quit", "never mind", "nevermind"}
BACK = {"back", "go back", "previous"}
SKIP = {"skip", "no", "none", "n/a", "-"}
YES = {"yes", "y", "save", "confirm", "ok", "save it", "save as it is"}
EDIT = {"edit", "change", "edit the note"}
NO = {"no", "nope", "no thanks", "don't post", "dont post", "do not post", "not an update"}


class UpdateActionDialog(Dialog):  # type: ignore[misc]
    ID = "update_action"

    def __init__(self) -> None:
        super().__init__(self.ID)

    async def begin_dialog(self, dc: DialogContext, options: object = None) -> DialogTurnResult:
        """`options`: {"draft": {...}, "guided": bool, "source": "chat" | "dialog"}."""
        given: dict[str, Any] = dict(options) if isinstance(options, dict) else {}
        state = dc.active_dialog.state
        state.update(
            draft=given.get("draft", {}),
            guided=bool(given.get("guided")),
            ask_first=bool(given.get("ask_first")),
            source=given.get("source", Source.DIALOG.value),
            done=[],
            touched=Turn.of(dc.context).now.isoformat(),
        )
        return await self._next(dc, given.get("problem"))

    async def continue_dialog(self, dc: DialogContext) -> DialogTurnResult:
        state = dc.active_dialog.state
        turn = Turn.of(dc.context)
        if turn.now - datetime.fromisoformat(state["touched"]) > TIMEOUT:
            await dc.context.send_activity(
                messages.expired(state["draft"].get("ref"), int(TIMEOUT.total_seconds() // 60))
            )
            return await dc.end_dialog()
        state["touched"] = turn.now.isoformat()
        said = answer_of(dc.context.activity)
        word = " ".join(said.lower().split()).rstrip(".!")
        if word in CANCEL:
            await dc.context.send_activity(messages.cancelled())
            return await dc.end_dialog()
        if word in BACK:
            return await self._back(dc)
        step = state["step"]
        problem = await HANDLERS[step](state, said, word, turn)
        if problem:
            await self._ask(dc, step, problem)
            return Dialog.end_of_turn
        if state.pop("abandon", False):
            await dc.context.send_activity(messages.not_posted())
            return await dc.end_dialog()
        if not state.pop("repeat", False):
            state["done"].append(step)
        return await self._next(dc)

    async def _back(self, dc: DialogContext) -> DialogTurnResult:
        state = dc.active_dialog.state
        if not state["done"]:
            await dc.context.send_activity("This is the first step; say cancel to stop.")
            await self._ask(dc, state["step"])
            return Dialog.end_of_turn
        previous = state["done"].pop()
        FORGET[previous](state)
        return await self._next(dc)

    async def _next(self, dc: DialogContext, problem: str | None = None) -> DialogTurnResult:
        state = dc.active_dialog.state
        turn = Turn.of(dc.context)
        step = next_step(state, turn.snapshot.case_patterns)
        if step is None:
            await self._save(dc, turn)
            return await dc.end_dialog()
        state["step"] = step
        await self._ask(dc, step, problem)
        return Dialog.end_of_turn

    async def _ask(self, dc: DialogContext, step: str, problem: str | None = None) -> None:
        state = dc.active_dialog.state
        text, choices, quoted = PROMPTS[step](state, Turn.of(dc.context))
        lines = [problem, text] if problem else [text]
        steering = [] if step == "post" else [("Back", "back"), ("Cancel", "cancel")]
        await dc.context.send_activity(prompt_activity(lines, quoted, [*choices, *steering]))

    async def _save(self, dc: DialogContext, turn: Turn) -> None:
        state = dc.active_dialog.state
        draft = draft_of(state["draft"])
        outcome = await turn.save(draft, Source(state["source"]))
        if isinstance(outcome, posting.Refused):
            await dc.context.send_activity(outcome.reason)
            return
        await dc.context.send_activity(saved_text(draft, outcome))


def saved_text(draft: Draft, outcome: posting.Saved) -> str:
    if outcome.again:
        return messages.already_saved(draft.ref or "")
    return messages.saved(draft.ref or "", cards.rag_word(draft.rag), draft.revised.label if draft.revised else None)


def answer_of(activity: Activity) -> str:
    """Typed text, or the value of a button pressed on one of the dialog's cards."""
    value = activity.value if isinstance(activity.value, dict) else {}
    if "dialog_input" in value:
        return str(value["dialog_input"])
    text = TurnContext.remove_recipient_mention(activity) if activity.entities else activity.text
    return (text or "").strip()


def draft_of(data: dict[str, Any]) -> Draft:
    revised = data.get("revised")
    return Draft(
        ref=data.get("ref"),
        rag=Rag(data["rag"]) if data.get("rag") else None,
        note=data.get("note"),
        revised=Due(datetime.fromisoformat(revised).date(), Precision(data["precision"])) if revised else None,
        unknown_rag=data.get("unknown_rag"),
    )


def draft_data(draft: Draft) -> dict[str, Any]:
    data = {k: v for k, v in asdict(draft).items() if k in {"ref", "note", "unknown_rag"}}
    data["rag"] = draft.rag.value if draft.rag else None
    data["revised"] = draft.revised.on.isoformat() if draft.revised else None
    data["precision"] = draft.revised.precision.value if draft.revised else None
    return data


def next_step(state: dict[str, Any], own: tuple[re.Pattern[str], ...] = ()) -> str | None:
    """The first step whose answer is missing; None when the update is ready to store. `own`: the
    partnership's own case-id patterns, checked in the note beside the built-in ones."""
    draft, done = state["draft"], state["done"]
    if state.get("ask_first") and "post" not in done:
        return "post"
    if not draft.get("ref"):
        return "action"
    if not draft.get("rag"):
        return "rating"
    if draft.get("note") is None or "note" in state.get("redo", []):
        return "note"
    if state["guided"] and "revised" not in done:
        return "revised"
    note = draft.get("note") or ""
    if sensitive(note, own) and state.get("kept_as_written") != note:  # kept on purpose: that note, as it is now
        return "sensitive"
    if state["guided"] and "confirm" not in done:
        return "confirm"
    return None


# Each step: read the answer into the draft, or say what is wrong (and the step is asked again).
async def _action(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    ref = said.strip().rstrip(".")
    action = turn.snapshot.action(ref)
    if action is None:
        return messages.unknown_action(ref, turn.snapshot.partnership, turn.snapshot.plan)
    if not posting.may_update(turn.snapshot, turn.person, ref):
        return posting.not_yours(turn.snapshot, turn.person, ref)
    state["draft"]["ref"] = ref
    return None


async def _rating(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    rag = rag_of(word.removeprefix("blue (").removesuffix(")")) or rag_of(word)
    if rag is None:
        return messages.which_rag(said)
    state["draft"]["rag"] = rag.value
    state["draft"]["unknown_rag"] = None
    return None


async def _note(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    draft = state["draft"]
    note, revised = split_revised("" if word in SKIP else said)
    action = turn.snapshot.action(draft["ref"])
    problem = note_problem(Rag(draft["rag"]), note, action.measure if action else "")
    if problem:
        return problem
    draft["note"] = note
    if revised:
        draft["revised"], draft["precision"] = revised.on.isoformat(), revised.precision.value
    state["redo"] = []
    return None


async def _revised(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    if word in SKIP:
        return None
    try:
        due = parse_due(said)
    except ValueError:
        return messages.bad_date(said)
    state["draft"]["revised"], state["draft"]["precision"] = due.on.isoformat(), due.precision.value
    return None


async def _post(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    """ "Post this as an update?": yes goes on to whatever is still missing; no stores nothing."""
    if word in YES or word in {"post", "post it", "yes post it", "yes please"}:
        return None
    if word in NO:
        state["abandon"] = True
        return None
    return messages.choose_from("post it or don't post")


async def _save_or_edit(state: dict[str, Any], said: str, word: str, turn: Turn) -> str | None:
    """The last look (and the warning about identifying details): save, or go back to the note."""
    if word in EDIT:
        state["redo"], state["repeat"] = ["note"], True
        return None
    if word in YES:
        if state.get("step") == "sensitive":
            state["kept_as_written"] = state["draft"].get("note") or ""
        return None
    return messages.choose_from("save or edit")


HANDLERS = {
    "post": _post,
    "action": _action,
    "rating": _rating,
    "note": _note,
    "revised": _revised,
    "sensitive": _save_or_edit,
    "confirm": _save_or_edit,
}


def _forget_note(state: dict[str, Any]) -> None:
    state["draft"]["note"] = None


def _forget_revised(state: dict[str, Any]) -> None:
    state["draft"]["revised"] = None


FORGET: dict[str, Callable[[dict[str, Any]], None]] = {
    "post": lambda state: None,
    "action": lambda state: state["draft"].update(ref=None),
    "rating": lambda state: state["draft"].update(rag=None),
    "note": _forget_note,
    "revised": _forget_revised,
    "sensitive": lambda state: None,
    "confirm": lambda state: None,
}

Choice = tuple[str, str | dict[str, str]]  # a button: its title, and what it answers (or a card verb)
Prompt = tuple[str, list[Choice], str | None]


def _ask_post(state: dict[str, Any], turn: Turn) -> Prompt:
    draft = draft_of(state["draft"])
    ref = draft.ref or ""
    text = messages.post_this(ref, cards.rag_word(draft.rag) if draft.rag else None)
    choices: list[Choice] = [("Post it", "yes"), ("Don't post", "no"), (f"Show {ref}", {"verb": "show", "ref": ref})]
    return text, choices, draft.note


def _ask_action(state: dict[str, Any], turn: Turn) -> Prompt:
    mine = turn.snapshot.led_by(turn.person.id)
    choices: list[Choice] = [(f"{a.ref} ({cards.rag_word(a.rag)})", a.ref) for a in mine[:8]]
    return messages.choose_action(len(mine)), choices, None


def _ask_rating(state: dict[str, Any], turn: Turn) -> Prompt:
    choices: list[Choice] = [("Red", "red"), ("Amber", "amber"), ("Green", "green"), ("Blue (complete)", "blue")]
    return messages.ask_rating(state["draft"]["ref"]), choices, None


def _ask_note(state: dict[str, Any], turn: Turn) -> Prompt:
    draft = state["draft"]
    action = turn.snapshot.action(draft["ref"])
    word = cards.rag_word(Rag(draft["rag"]))
    skip: list[Choice] = [("Skip", "skip")] if draft["rag"] == Rag.GREEN.value else []
    return messages.ask_note(draft["ref"], word, (action.measure if action else "").replace("\n", "; ")), skip, None


def _ask_revised(state: dict[str, Any], turn: Turn) -> Prompt:
    return messages.ask_revised(state["draft"]["ref"]), [("Skip", "skip")], None


def _ask_sensitive(state: dict[str, Any], turn: Turn) -> Prompt:
    note = state["draft"].get("note") or ""
    warning = messages.sensitive_warning(sensitive(note, turn.snapshot.case_patterns))
    return warning, [("Save as it is", "save"), ("Edit the note", "edit")], note


def _ask_confirm(state: dict[str, Any], turn: Turn) -> Prompt:
    draft = draft_of(state["draft"])
    text = messages.confirm(
        draft.ref or "", cards.rag_word(draft.rag), "", draft.revised.label if draft.revised else None
    )
    return text.removesuffix(" Note: (none)"), [("Save", "save"), ("Edit the note", "edit")], draft.note or "(no note)"


PROMPTS = {
    "post": _ask_post,
    "action": _ask_action,
    "rating": _ask_rating,
    "note": _ask_note,
    "revised": _ask_revised,
    "sensitive": _ask_sensitive,
    "confirm": _ask_confirm,
}


def prompt_activity(lines: list[str], quoted: str | None, choices: list[Choice]) -> Activity:
    """A question with buttons; the person's own note, when shown back, is text, never markup."""
    body = [{"type": "TextBlock", "text": line, "wrap": True} for line in lines]
    if quoted is not None:
        body.append(cards.written(quoted, spacing="Small"))
    buttons = [
        {"type": "Action.Submit", "title": t, "data": v if isinstance(v, dict) else {"dialog_input": v}}
        for t, v in choices
    ]
    card = cards.card(body, buttons)
    summary = " ".join(lines)
    if not choices:
        return MessageFactory.text(summary)
    return Activity(
        type=ActivityTypes.message,
        summary=summary,
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)],
    )
