"""Before each BMG: nudges, a final nudge, sub-group summaries and the exception report, each
claimed in the database before it is sent, so that any number of replicas, a restart mid-run or a
cron run beside the server send each one once.

`Scheduler.steps` is the one place that decides what is due at a moment and builds the messages;
`Scheduler.run_once` sends whatever is due now (the server calls it every few minutes and
`planbot summaries run` calls it once), and `Scheduler.preview` only reads, for a rehearsal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from botbuilder.schema import Activity

from bot import cards, summaries
from bot.clock import Clock
from bot.messenger import Messenger, card_activity
from bot.retries import SendFailed, SendUnknown
from bot.summaries import Timetable
from bot.views import Snapshot, for_channel, load_snapshot
from storage.db import Database
from storage.models import (
    Conversation,
    ConversationKind,
    Dispatch,
    DispatchKind,
    DispatchStatus,
    Partnership,
    Person,
    Role,
)
from storage.repositories import (
    ConversationRepository,
    DispatchKey,
    DispatchRepository,
    MeetingRepository,
    PartnershipRepository,
    PeopleRepository,
)

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)


@dataclass
class Report:
    """What a run did (or, dry, would do), one line per message."""

    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        log.info("%s", line)


@dataclass(frozen=True)
class Outgoing:
    key: DispatchKey
    label: str
    text: str  # the message in plain words, as a preview shows it
    activity: Activity
    to: Conversation | None  # None: nowhere to send it (not installed, no linked channel)
    thread: bool  # a new thread in a channel, else a 1:1 message
    missing_address: str = ""
    held: bool = False  # never tried, nor claimed: a summary waiting for its sub-group's channel to be linked

    @property
    def problem(self) -> str:
        """What the business unit is told when it could not go."""
        return f"{self.label}: {self.missing_address}"


class StepState(StrEnum):
    RUNS = "runs now"
    NOT_YET = "not due yet"
    OUT_OF_HOURS = "waits for working hours (09:00 to 17:00, Monday to Friday)"
    REPLACED = "replaced by the final nudge"


@dataclass(frozen=True)
class Step:
    """One step before a meeting at one moment: when it falls due, whether it runs, what it sends."""

    name: str
    due: datetime
    state: StepState
    messages: tuple[Outgoing, ...] = ()  # empty unless it runs

    @property
    def outgoing(self) -> list[Outgoing]:
        """The messages a run claims and sends (a held one is not even claimed)."""
        return [m for m in self.messages if not m.held]


@dataclass(frozen=True)
class Scene:
    """One partnership at the moment of a run: its plan, its next meeting, where messages can go."""

    partnership_id: int
    snapshot: Snapshot
    meeting: date
    personal: dict[int, Conversation]  # person id -> their 1:1 chat with the bot
    channel_of: dict[int, Conversation]  # sub-group id -> its linked channel
    admins: list[Person]

    def key(self, kind: DispatchKind, target: str) -> DispatchKey:
        return DispatchKey(self.partnership_id, self.meeting, kind, target)

    def who(self, target: str) -> str:
        """A dispatch's target (`person:12`, `subgroup:3`, `problems:12:<digest>`) by name."""
        kind, _, rest = target.partition(":")
        ident = int(rest.partition(":")[0]) if rest.partition(":")[0].isdigit() else -1
        if kind == "subgroup":
            return next((g.name for g in self.snapshot.subgroups if g.id == ident), target)
        name = self.snapshot.people.get(ident, target)
        return f"the problems report to {name}" if kind == "problems" else name


@dataclass(frozen=True)
class Done:
    """A message of this meeting's cycle that is already sent, tried, skipped or being sent."""

    kind: DispatchKind
    target: str
    status: DispatchStatus
    at: datetime
    by: str
    detail: str


@dataclass(frozen=True)
class Preview:
    """What a run at one moment would do for one partnership, found by reading only."""

    partnership: str
    now: datetime
    tz: ZoneInfo
    meetings: list[date]
    scene: Scene | None  # None: no plan, or no meeting to come
    steps: list[Step] = field(default_factory=list)
    done: list[Done] = field(default_factory=list)
    problem_reports: list[Outgoing] = field(default_factory=list)  # to the business unit, about what cannot go

    def already(self, item: Outgoing) -> Done | None:
        """The dispatch row that stops a run sending this message again, if there is one."""
        return next((d for d in self.done if (d.kind, d.target) == (item.key.kind, item.key.target)), None)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        messenger: Messenger | None,
        timetable: Timetable | None = None,
        who: str | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.messenger = messenger
        self.timetable = timetable or Timetable()
        self.who = who or worker_name()

    async def run_once(self, dry_run: bool = False) -> Report:
        report = Report()
        async with self.database.reading() as session:
            partnerships = await PartnershipRepository(session).all()
        for partnership in partnerships:
            await self._partnership(partnership, report, dry_run)
        return report

    async def _partnership(self, partnership: Partnership, report: Report, dry_run: bool) -> None:
        now = self.clock.now()
        scene = await self._scene(partnership, now)
        if scene is None:
            return
        outgoing = [item for step in self.steps(scene, now) for item in step.outgoing]
        problems: list[str] = []
        if not dry_run:
            async with self.database.transaction() as session:
                gone = await DispatchRepository(session).give_up_on_stale_sends(partnership.id, now - LEASE, now)
            problems.extend(f"{row.kind.value} ({row.target}): {row.detail}" for row in gone)
        for item in outgoing:
            problem = await self._deliver(item, report, dry_run)
            if problem:
                problems.append(problem)
        report.failed.extend(problems)
        if problems:
            for item in self._problem_reports(scene, problems):
                await self._deliver(item, report, dry_run)

    async def preview(self, short_name: str) -> Preview:
        """What a run at the clock's moment would send for one partnership, and what went before.

        The same steps as a run, but nothing is claimed, sent or written. Raises NotFoundError for
        an unknown partnership."""
        now = self.clock.now()
        async with self.database.reading() as session:
            partnership = await PartnershipRepository(session).by_short_name(short_name)
            meetings = await MeetingRepository(session).dates(partnership)
        tz = ZoneInfo(partnership.timezone)
        scene = await self._scene(partnership, now)
        if scene is None:
            return Preview(partnership.short_name, now, tz, meetings, None)
        steps = self.steps(scene, now)
        async with self.database.reading() as session:
            rows = await DispatchRepository(session).for_meeting(partnership, scene.meeting)
            done = [
                Done(r.kind, r.target, r.status, r.finished_at or r.claimed_at, r.claimed_by, r.detail) for r in rows
            ]
        preview = Preview(partnership.short_name, now, tz, meetings, scene, steps, done)
        problems = [i.problem for step in steps for i in step.outgoing if i.to is None and not preview.already(i)]
        return dataclasses.replace(preview, problem_reports=self._problem_reports(scene, problems) if problems else [])

    async def _scene(self, partnership: Partnership, now: datetime) -> Scene | None:
        """Everything a run needs about one partnership, read together (without the write lock, which a
        whole plan's reading would keep from the turns storing updates meanwhile)."""
        async with self.database.reading() as session:
            try:
                # Summaries go to channels: every note in them as a channel may show it.
                snapshot = for_channel(await load_snapshot(session, partnership, now))
            except LookupError:  # no plan yet
                return None
            addresses = ConversationRepository(session)
            personal = await addresses.active(partnership, ConversationKind.PERSONAL)
            channels = {c.id: c for c in await addresses.active(partnership, ConversationKind.CHANNEL)}
            people = await PeopleRepository(session).people(partnership)
            groups = await PeopleRepository(session).subgroups(partnership)
        if snapshot.next_bmg is None:
            return None
        return Scene(
            partnership_id=partnership.id,
            snapshot=snapshot,
            meeting=snapshot.next_bmg,
            personal={c.person_id: c for c in personal if c.person_id},
            channel_of={g.id: channels[g.channel_id] for g in groups if g.channel_id in channels},
            admins=[p for p in people if p.role is Role.ADMIN],
        )

    def steps(self, scene: Scene, now: datetime) -> list[Step]:
        """What is due at `now` and the messages it sends: the run sends them, the preview prints them.

        Nudges go in working hours only, the final one instead of the first once it is due; the
        summaries and the exception report go any time from their due time.
        """
        tz, meeting, table = scene.snapshot.tz, scene.meeting, self.timetable
        first_due = table.due(meeting, table.nudge_days, tz)
        final_due = table.due(meeting, table.final_nudge_days, tz)
        summary_due = table.due(meeting, table.summary_days, tz)
        working = summaries.in_working_hours(now, tz)

        def nudge_state(due: datetime, replaced: bool) -> StepState:
            if now < due:
                return StepState.NOT_YET
            if replaced:
                return StepState.REPLACED
            return StepState.RUNS if working else StepState.OUT_OF_HOURS

        first = nudge_state(first_due, replaced=now >= final_due)
        final = nudge_state(final_due, replaced=False)
        summary = StepState.RUNS if now >= summary_due else StepState.NOT_YET
        return [
            Step("first nudge", first_due, first, self._nudges(scene, False) if first is StepState.RUNS else ()),
            Step("final nudge", final_due, final, self._nudges(scene, True) if final is StepState.RUNS else ()),
            Step("summaries", summary_due, summary, self._summaries(scene) if summary is StepState.RUNS else ()),
        ]

    def _nudges(self, scene: Scene, final: bool) -> tuple[Outgoing, ...]:
        """The first or final reminder to each lead still missing updates."""
        meeting = scene.meeting
        kind = DispatchKind.FINAL_NUDGE if final else DispatchKind.NUDGE
        outgoing = []
        for owed in summaries.owed(scene.snapshot):
            refs = ", ".join(a.ref for a in owed.actions)
            outgoing.append(
                Outgoing(
                    scene.key(kind, f"person:{owed.person_id}"),
                    f"{kind.value} to {owed.name} ({refs})",
                    summaries.nudge_text(owed, meeting, final=final),
                    card_activity(
                        summaries.nudge_card(owed, meeting, final=final), f"Updates needed before the BMG: {refs}"
                    ),
                    scene.personal.get(owed.person_id),
                    thread=False,
                    missing_address=f"Plan Tracker is not installed in {owed.name}'s Teams",
                )
            )
        return tuple(outgoing)

    def _summaries(self, scene: Scene) -> tuple[Outgoing, ...]:
        """Each sub-group's summary in its linked channel, and the exception report for the business unit.

        A sub-group with no linked channel is named in the exception report; its summary is held, not
        claimed, so that it goes out if a channel is linked before the meeting."""
        snapshot, meeting = scene.snapshot, scene.meeting
        outgoing, unlinked = [], []
        for group in snapshot.subgroups:
            if not snapshot.for_subgroup(group.id):
                continue
            channel = scene.channel_of.get(group.id)
            if channel is None:
                unlinked.append(group.name)
            summary = summaries.summary_for(snapshot, group, meeting)
            chair = snapshot.people.get(group.chair_id or -1)
            text = summaries.summary_text(summary, {})
            where = f" in {channel.channel_name or 'its channel'}" if channel else ""
            outgoing.append(
                Outgoing(
                    scene.key(DispatchKind.SUMMARY, f"subgroup:{group.id}"),
                    f"summary for {group.name}{where}",
                    text,
                    card_activity(summaries.summary_card(summary, chair), text),
                    channel,
                    thread=True,
                    missing_address=f"no channel is linked to {group.name}",
                    held=channel is None,
                )
            )
        text = summaries.exceptions_text(snapshot, unlinked)
        report = card_activity(summaries.exceptions_card(snapshot, meeting, unlinked), text)
        for person in scene.admins:
            outgoing.append(
                Outgoing(
                    scene.key(DispatchKind.EXCEPTIONS, f"person:{person.id}"),
                    f"exception report to {person.name}",
                    text,
                    report,
                    scene.personal.get(person.id),
                    thread=False,
                    missing_address=f"Plan Tracker is not installed in {person.name}'s Teams",
                )
            )
        return tuple(outgoing)

    def _problem_reports(self, scene: Scene, problems: list[str]) -> list[Outgoing]:
        """Tell the business unit what could not be sent (once per distinct set of problems)."""
        digest = hashlib.sha256("\n".join(sorted(problems)).encode()).hexdigest()[:16]
        card = cards.notice("Some messages before the BMG could not be sent", problems)
        text = "Could not send: " + "; ".join(problems)
        return [
            Outgoing(
                scene.key(DispatchKind.EXCEPTIONS, f"problems:{person.id}:{digest}"),
                f"problems report to {person.name}",
                text,
                card_activity(card, text),
                scene.personal.get(person.id),
                thread=False,
                missing_address=f"Plan Tracker is not installed in {person.name}'s Teams",
            )
            for person in scene.admins
            if person.id in scene.personal
        ]

    async def _deliver(self, item: Outgoing, report: Report, dry_run: bool) -> str | None:
        """Claim, send, record. Returns what went wrong, if anything did."""
        now = self.clock.now()
        if dry_run:
            where = "nowhere: " + item.missing_address if item.to is None else "would send"
            report.add(f"{item.label}: {where}")
            return None
        async with self.database.transaction() as session:
            claim = await DispatchRepository(session).claim(item.key, self.who, now, now - LEASE)
            if claim is None:
                return None  # another process has it, or it was done
            if item.to is None:
                _finish(claim, DispatchStatus.FAILED, now, item.missing_address)
                report.add(f"{item.label}: failed ({item.missing_address})")
                return item.problem
            claim.status = DispatchStatus.SENDING
            claim_id = claim.id
        status, detail, attempts = await self._send(item)
        async with self.database.transaction() as session:
            row = await session.get_one(Dispatch, claim_id)
            row.attempts = attempts
            _finish(row, status, self.clock.now(), detail)
        report.add(f"{item.label}: {status.value}" + (f" ({detail})" if detail else ""))
        return None if status is DispatchStatus.SENT else f"{item.label}: {detail}"

    async def _send(self, item: Outgoing) -> tuple[DispatchStatus, str, int]:
        assert self.messenger is not None and item.to is not None
        send = self.messenger.new_thread if item.thread else self.messenger.to_person
        try:
            attempts = await send(item.to, item.activity)
        except SendUnknown as exc:
            return DispatchStatus.UNKNOWN, str(exc), 1
        except SendFailed as exc:
            return DispatchStatus.FAILED, str(exc), self.messenger.pacing.attempts
        return DispatchStatus.SENT, "", attempts


def _finish(row: Dispatch, status: DispatchStatus, now: datetime, detail: str) -> None:
    row.status = status
    row.finished_at = now
    row.detail = detail


async def run_forever(scheduler: Scheduler, interval: float, stop: asyncio.Event) -> None:
    """The server's background task: a run every `interval` seconds until stopped."""
    while not stop.is_set():
        try:
            await scheduler.run_once()
        except Exception:  # one bad run must not stop the next
            log.exception("the scheduler's run failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
