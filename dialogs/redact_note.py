"""Redacting a note: which one (when there are several), why, then done. `cancel` works at every step.

Teams may deliver an activity twice: the dialog remembers the activities it has had, and one it has
already had asks its question again instead of being taken as the answer.
"""

from __future__ import annotations

from typing import Any

from botbuilder.dialogs import Dialog, DialogContext, DialogTurnResult

from bot import cards, messages, redaction
from bot.refusals import refused
from dialogs.turn import Turn
from dialogs.update_action import CANCEL, answer_of, prompt_activity
from storage.audit import Actor
from storage.models import Update

MAX_LISTED = 8
REASON_LIMIT = 500


class RedactNoteDialog(Dialog):  # type: ignore[misc]
    ID = "redact_note"

    def __init__(self) -> None:
        super().__init__(self.ID)

    async def begin_dialog(self, dc: DialogContext, options: object = None) -> DialogTurnResult:
        """`options`: {"ref": "4.2", "ids": [update ids, newest first]}."""
        given: dict[str, Any] = dict(options) if isinstance(options, dict) else {}
        ids = [int(i) for i in given.get("ids", [])][:MAX_LISTED]
        state = dc.active_dialog.state
        state.update(ref=given.get("ref"), ids=ids, chosen=ids[0] if len(ids) == 1 else None, seen=[])
        _seen(dc)
        state["step"] = "reason" if state["chosen"] else "which"
        await self._ask(dc)
        return Dialog.end_of_turn

    async def continue_dialog(self, dc: DialogContext) -> DialogTurnResult:
        state = dc.active_dialog.state
        if _seen(dc):  # the same activity again: ask again, change nothing
            await self._ask(dc)
            return Dialog.end_of_turn
        said = answer_of(dc.context.activity)
        if " ".join(said.lower().split()).rstrip(".!") in CANCEL:
            await dc.context.send_activity(messages.redaction_cancelled())
            return await dc.end_dialog()
        if state["step"] == "which":
            number = said.strip().rstrip(".").lstrip("#")
            if not number.isdigit() or not 1 <= int(number) <= len(state["ids"]):
                await self._ask(dc, messages.bad_choice(len(state["ids"])))
                return Dialog.end_of_turn
            state["chosen"] = state["ids"][int(number) - 1]
            state["step"] = "reason"
            await self._ask(dc)
            return Dialog.end_of_turn
        reason = " ".join(said.split())[:REASON_LIMIT]
        if not reason:
            await self._ask(dc)
            return Dialog.end_of_turn
        await dc.context.send_activity(await self._redact(dc, reason))
        return await dc.end_dialog()

    async def _redact(self, dc: DialogContext, reason: str) -> str:
        turn = Turn.of(dc.context)
        ref = dc.active_dialog.state["ref"]
        update = await turn.session.get(Update, dc.active_dialog.state["chosen"])
        if update is None or not redaction.may_redact(turn.person, update):
            refused("not theirs to redact", partnership=turn.person.partnership_id, person=turn.person.id, ref=ref)
            return messages.redaction_refused(ref, turn.snapshot.admins)
        by = Actor.of(turn.person, turn.conversation_id, turn.activity_id)
        done = await redaction.redact(turn.session, update, turn.person.partnership_id, by, reason, turn.now, ref)
        when = redaction.when(update, turn.snapshot.tz)
        return messages.already_redacted(ref, when) if done.again else messages.redacted(ref, when)

    async def _ask(self, dc: DialogContext, problem: str | None = None) -> None:
        state = dc.active_dialog.state
        turn = Turn.of(dc.context)
        ref = state["ref"]
        if state["step"] == "reason":
            update = await turn.session.get(Update, state["chosen"])
            when = redaction.when(update, turn.snapshot.tz) if update else "that update"
            lines = [messages.ask_redaction_reason(ref, when)]
            quoted = update.comment if update else None
            await dc.context.send_activity(prompt_activity(lines, quoted, [("Cancel", "cancel")]))
            return
        lines = [problem] if problem else []
        lines.append(messages.which_note(ref, len(state["ids"])))
        choices: list[tuple[str, str]] = []
        for number, update_id in enumerate(state["ids"], start=1):
            update = await turn.session.get(Update, update_id)
            if update is None:
                continue
            author = update.author_name or "the plan file"
            text = update.comment if len(update.comment) <= 60 else update.comment[:57] + "..."
            lines.append(
                f"{number}. {redaction.when(update, turn.snapshot.tz)}, {author}, {cards.rag_word(update.rag)}: {text}"
            )
            choices.append((str(number), str(number)))
        await dc.context.send_activity(prompt_activity(lines, None, [*choices, ("Cancel", "cancel")]))


def _seen(dc: DialogContext) -> bool:
    """Has the dialog had this activity before? Remembers it if not."""
    activity_id = dc.context.activity.id
    seen: list[str] = dc.active_dialog.state.setdefault("seen", [])
    if activity_id and activity_id in seen:
        return True
    if activity_id:
        seen.append(activity_id)
        del seen[:-20]
    return False
