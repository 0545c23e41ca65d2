"""Where updates come in: from one message, from the guided dialog, from a card's form."""

from __future__ import annotations

import hmac
import re
from dataclasses import replace
from datetime import date
from typing import Any

from botbuilder.dialogs import DialogContext
from dateutil import parser

from bot import cards, messages, posting, redaction
from bot.language.slots import dates
from bot.links import PaperLinks
from bot.privacy import Checked
from bot.queries import Reply
from bot.refusals import refused
from bot.revisions import accept_revision
from bot.rules import parse_due
from bot.updates import Draft, complete, note_problem, rag_of
from dialogs.redact_note import RedactNoteDialog
from dialogs.turn import Turn
from dialogs.update_action import UpdateActionDialog, draft_data, saved_text
from storage.audit import Actor
from storage.models import Accepted, DispatchKind, Partnership, Source
from storage.repositories import DispatchKey, DispatchRepository, MeetingRepository

ISO_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
COMMAND = re.compile(
    r"^\s*(?:set|add|book)?\s*(?:the\s+|a\s+)?(?:next\s+)?bmg\s*(?:is\s+|to\s+|on\s+|for\s+|as\s+)?", re.I
)


def meeting_day(text: str) -> date | None:
    """The day named in "set BMG 2026-12-03" or "add a BMG on 3 December 2026" (day first, as in the UK)."""
    for span in dates(text):
        try:
            return date.fromisoformat(span.value) if ISO_DAY.fullmatch(span.value) else _day_first(span.value)
        except ValueError:
            continue
    return None


def _day_first(text: str) -> date:
    if not re.search(r"\d{4}", text) or not re.search(r"\d{1,2}\D+\S+\D+\d{4}|\d{1,2}/\d{1,2}/\d{2,4}", text):
        raise ValueError(f"'{text}' is not a whole date")
    return parser.parse(text, dayfirst=True).date()


PRIVATELY = "plan_tracker.continue_privately"  # a dialog begun in a channel, to go on in the 1:1 chat


class Desk:
    def __init__(
        self, dc: DialogContext, turn: Turn, links: PaperLinks, shared: bool = False, checked: Checked | None = None
    ) -> None:
        self.dc = dc
        self.turn = turn
        self.links = links
        self.shared = shared  # a channel or group chat: nothing a lead typed is quoted back here
        self.checked = checked or Checked()  # notes this turn checked already, before it held the plan

    async def paper(self) -> Reply:
        """A link to the BMG paper (DOCX), for the business unit; it works for an hour."""
        url = self.links.make(self.turn.person.partnership_id)
        card = cards.notice(
            "The BMG paper",
            [messages.paper_ready()],
            [{"type": "Action.OpenUrl", "title": "Download the BMG paper (Word)", "url": url}],
        )
        return Reply(f"{messages.paper_ready()} {url}", card)

    async def submit(self, draft: Draft, confirm: bool = False) -> Reply | None:
        """Store a one-message update, or start the dialog at the first thing it lacks.

        `confirm`: the message may not have been meant as an update, so the dialog first asks
        whether to post it; nothing is stored, and nothing typed is lost, until the lead says.
        """
        snapshot, person = self.turn.snapshot, self.turn.person
        guided = draft.rag is None and draft.note is None and draft.unknown_rag is None
        known = draft.ref is not None and snapshot.action(draft.ref) is not None
        if known and not posting.may_update(snapshot, person, draft.ref or ""):
            return Reply(posting.not_yours(snapshot, person, draft.ref or ""))
        draft, problem = self._first_problem(draft)
        if (
            not confirm
            and not guided
            and not problem
            and complete(draft)
            and not self.checked.kinds(draft.note or "", snapshot.case_patterns)
        ):
            outcome = await self._save(draft, Source.CHAT)
            return Reply(outcome)
        source = Source.DIALOG if guided else Source.CHAT
        options = {
            "draft": draft_data(draft),
            "guided": guided,
            "source": source.value,
            "problem": None if confirm and draft.ref is not None else problem,  # first, whether to post at all
            "ask_first": confirm and draft.ref is not None,
        }
        if self.shared:  # the questions may quote the note: they are asked in the lead's 1:1 chat
            return Reply(self.privately(options))
        await self.dc.begin_dialog(UpdateActionDialog.ID, options)
        return None

    def privately(self, options: dict[str, Any], dialog: str = UpdateActionDialog.ID) -> str:
        """Go on with this conversation in the person's 1:1 chat, after this turn; what to say here."""
        self.dc.context.turn_state[PRIVATELY] = (dialog, options)
        return messages.continued_privately()

    def _first_problem(self, draft: Draft) -> tuple[Draft, str | None]:
        """What to say before asking again, with the part it concerns taken out of the draft."""
        snapshot = self.turn.snapshot
        if draft.ref is not None and snapshot.action(draft.ref) is None:
            return replace(draft, ref=None), messages.unknown_action(draft.ref, snapshot.partnership, snapshot.plan)
        if draft.unknown_rag:
            return draft, messages.which_rag(draft.unknown_rag)
        if draft.rag is not None and draft.note is not None:
            action = snapshot.action(draft.ref or "")
            problem = note_problem(draft.rag, draft.note, action.measure if action else "")
            if problem:
                return replace(draft, note=None), problem
        return draft, None

    async def _save(self, draft: Draft, source: Source) -> str:
        outcome = await self.turn.save(draft, source)
        if isinstance(outcome, posting.Refused):
            return outcome.reason
        return saved_text(draft, outcome)

    def actor(self) -> Actor:
        """This turn's person, and the activity that asked: a change it makes is made once."""
        turn = self.turn
        return Actor.of(turn.person, turn.conversation_id, turn.activity_id)

    async def undo(self) -> Reply:
        turn = self.turn
        withdrawn = await posting.undo(turn.session, turn.person, turn.now, turn.conversation_id, turn.activity_id)
        if withdrawn is None:
            return Reply(messages.nothing_to_undo())
        action = next((a for a in turn.snapshot.actions if a.id == withdrawn.update.action_id), None)
        ref = action.ref if action else "that action"
        return Reply(messages.already_withdrawn(ref) if withdrawn.again else messages.undone(ref))

    async def redact(self, ref: str, mine: bool) -> Reply | None:
        """`redact 4.2`: ask which note (if several) and why, then replace its text."""
        turn = self.turn
        found = await redaction.candidates(turn.session, turn.snapshot, turn.person, ref, mine)
        if isinstance(found, str):
            return Reply(found)
        options = {"ref": ref, "ids": [u.id for u in found]}
        if self.shared:  # it shows the note to choose and asks why: never in the channel
            return Reply(self.privately(options, RedactNoteDialog.ID))
        await self.dc.begin_dialog(RedactNoteDialog.ID, options)
        return None

    async def set_meeting(self, text: str) -> Reply:
        """`set BMG 2026-12-03` (or "3 December 2026") from the business unit."""
        day = meeting_day(text)
        if day is None:
            return Reply(messages.bad_meeting_date(COMMAND.sub("", text).strip() or text.strip()))
        partnership = await self.turn.session.get_one(Partnership, self.turn.person.partnership_id)
        added = await MeetingRepository(self.turn.session).add(partnership, day, by=self.actor(), at=self.turn.now)
        return Reply(messages.meeting_set(day) if added else messages.meeting_exists(day))

    async def accept_date(self, ref: str) -> Reply:
        """`accept the new date for 4.2` from the business unit: the proposal becomes the milestone."""
        turn = self.turn
        return Reply(
            await accept_revision(
                turn.session, turn.snapshot, turn.person, ref, turn.now, Accepted.TEAMS, by=self.actor()
            )
        )

    async def snooze(self) -> Reply:
        """Skip this cycle's reminders: recorded as skipped dispatches, so no replica sends them."""
        meeting = self.turn.snapshot.next_bmg
        if meeting is None:
            return Reply(messages.no_meeting(self.turn.snapshot.partnership))
        repo = DispatchRepository(self.turn.session)
        person = self.turn.person
        added = [
            await repo.skip(
                DispatchKey(person.partnership_id, meeting, kind, f"person:{person.id}"),
                "snooze",
                self.turn.now,
                "snoozed",
            )
            for kind in (DispatchKind.NUDGE, DispatchKind.FINAL_NUDGE)
        ]
        return Reply(messages.snoozed(meeting) if any(added) else messages.already_snoozed(meeting))

    async def form(self, ref: str, values: dict[str, Any]) -> dict[str, Any]:
        """The card's Update form was sent: store it and show the action, or show the form again."""
        snapshot, person = self.turn.snapshot, self.turn.person
        action = snapshot.action(ref)
        if action is None:
            return cards.notice(messages.unknown_action(ref, snapshot.partnership, snapshot.plan))
        note = str(values.get("note") or "").strip()
        rag = rag_of(str(values.get("rag") or ""))
        revised = None
        if values.get("revised"):
            try:
                revised = parse_due(str(values["revised"]))
            except ValueError:
                return cards.update_form(action, values, messages.bad_date(str(values["revised"])))
        draft = Draft(ref=ref, rag=rag, note=note, revised=revised)
        problem = posting.refusal(snapshot, person, draft)
        if problem:
            return cards.update_form(action, values, problem)
        found = self.checked.kinds(note, snapshot.case_patterns)
        seal = self.links.seal(f"{ref}\n{note}")  # "save anyway" holds for this note only, as it was warned about
        if found and not hmac.compare_digest(str(values.get("confirmed") or ""), seal):
            if values.get("confirmed"):  # a "save anyway" this bot did not make for this note
                refused("a card's confirmation does not match its note", person=person.id, ref=ref)
            return cards.update_form(action, values, messages.sensitive_warning(found), confirm=seal)
        outcome = await self.turn.save(draft, Source.CARD)
        if isinstance(outcome, posting.Refused):
            return cards.update_form(action, values, outcome.reason)
        return cards.updated(action, outcome.update, person.name, snapshot.tz, again=outcome.again)
