"""What the bot shows, as plain data: a snapshot of one partnership's plan at one instant.

Loaded with a handful of queries per turn (a plan has tens of actions, not thousands); every
filter after that is a pure function over the snapshot, so answers are tested without Teams.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.language import SubgroupIndex, vocabulary
from bot.privacy import checking_many, own_patterns, redact
from bot.rules import (
    Due,
    EffectiveMilestone,
    Precision,
    Rag,
    UpdateFacts,
    current_update,
    effective_milestones,
    end_of_day,
    is_missing_update,
    last_meeting,
    late_by,
    missed_reports,
    next_due,
    next_meeting,
    overdue_since,
)
from storage.models import Membership, MilestoneRevision, Partnership, Person, ReviewKind, Role, Update
from storage.repositories import (
    ActionRow,
    MeetingRepository,
    NoteRepository,
    PeopleRepository,
    PlanRepository,
    RevisionRepository,
    revision,
)
from storage.versions import DataStamp, data_stamp


@dataclass(frozen=True)
class UpdateView:
    rag: Rag | None
    comment: str
    author: str | None
    at: datetime
    withdrawn: bool = False
    cleared: bool = False  # the business unit cleared the note to be shown as written
    redacted: bool = False  # the note's text was replaced (by a person, or the retention policy)


@dataclass(frozen=True)
class ActionView:
    id: int
    ref: str
    description: str
    objective: str
    lead: str
    lead_subgroup_id: int | None
    lead_person_id: int | None
    measure: str
    dues: tuple[Due, ...]  # the milestones as they stand (accepted revisions applied), in date order
    rag: Rag | None
    latest: UpdateView | None
    history: tuple[UpdateView, ...]
    next_due: Due | None
    overdue: bool  # the last milestone has passed and the action is not Blue
    missing: bool  # no update since the last BMG
    # A revised date proposed in the latest update that gave one, until the business unit accepts it:
    proposed: Due | None = None
    overdue_since: Due | None = None  # the last milestone, when overdue
    overdue_for: timedelta | None = None  # how long since it passed, when overdue
    missed: tuple[Due, ...] = ()  # milestones that passed with no update posted for them, in date order
    milestones: tuple[EffectiveMilestone, ...] = ()  # `dues` with where each revised one came from
    proposal_id: int | None = None  # the update that made the latest proposal (pending or accepted)
    proposed_at: datetime | None = None  # and when it was posted


@dataclass(frozen=True)
class SubgroupView:
    id: int
    name: str
    aliases: tuple[str, ...]
    chair_id: int | None
    member_ids: frozenset[int]

    @property
    def people(self) -> frozenset[int]:
        return self.member_ids | ({self.chair_id} if self.chair_id else set())


class Lookup:
    """What a snapshot's answers look up (an action by reference, who leads what, the sub-groups as a
    message is read against them), made once for its actions and sub-groups when the plan is read. The
    copies a turn makes of the kept snapshot for its own time (`replace(snapshot, now=...)`) share it,
    and so does the plan as an update or a channel's redaction leaves it (`moved_to`: the same actions
    in the same places, some shown anew); a copy with other actions or sub-groups makes its own."""

    def __init__(self, actions: list[ActionView], subgroups: list[SubgroupView]) -> None:
        self.actions, self.subgroups = actions, subgroups
        self.by_ref: dict[str, int] = {}  # the position of each reference's (first) action
        self.by_person: dict[int, list[int]] = {}  # the positions of the actions a person leads directly
        self.by_group: dict[int, list[int]] = {}  # and of those a sub-group leads
        for position, action in enumerate(actions):
            self.by_ref.setdefault(action.ref, position)
            if action.lead_person_id is not None:
                self.by_person.setdefault(action.lead_person_id, []).append(position)
            if action.lead_subgroup_id is not None:
                self.by_group.setdefault(action.lead_subgroup_id, []).append(position)
        self.groups_of: dict[int, list[int]] = {}  # the sub-groups a person chairs or belongs to
        self.names: dict[str, SubgroupView] = {}  # each sub-group's name and aliases, lower-cased
        for group in subgroups:
            for person_id in group.people:
                self.groups_of.setdefault(person_id, []).append(group.id)
            for name in (group.name, *group.aliases):
                self.names.setdefault(name.lower(), group)
        self.vocabulary = vocabulary([(g.name, g.aliases) for g in subgroups])

    def fits(self, actions: list[ActionView], subgroups: list[SubgroupView]) -> bool:
        return actions is self.actions and subgroups is self.subgroups

    def moved_to(self, actions: list[ActionView], changed: Iterable[int] | None = None) -> Lookup:
        """This lookup for `actions`, if they are its own with some shown anew (the same references and
        leads in the same places); otherwise one made for them. `changed`: the only positions whose
        actions may not be this lookup's own (an update's: the others are looked at only by identity
        otherwise, 3,000 of them on a council-wide plan)."""
        ours = self.actions
        positions = range(len(actions)) if changed is None else changed
        same = len(actions) == len(ours) and all(
            actions[p] is ours[p] or _placed(actions[p]) == _placed(ours[p]) for p in positions
        )
        if not same:
            return Lookup(actions, self.subgroups)
        moved = copy(self)
        moved.actions = actions
        return moved


def _placed(action: ActionView) -> tuple[str, int | None, int | None]:
    """What a `Lookup` finds an action by: its reference and its leads."""
    return action.ref, action.lead_person_id, action.lead_subgroup_id


@dataclass
class Snapshot:
    partnership: str
    plan: str
    now: datetime
    tz: ZoneInfo
    actions: list[ActionView]
    meetings: list[date]
    subgroups: list[SubgroupView]
    people: dict[int, str]
    admins: list[str] = field(default_factory=list)
    case_patterns: tuple[re.Pattern[str], ...] = ()  # the partnership's own case ids, checked in every note
    # Made with the snapshot unless given (`Lookup.moved_to`); a copy with other actions makes its own.
    lookup: Lookup | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.lookup is None or not self.lookup.fits(self.actions, self.subgroups):
            self.lookup = Lookup(self.actions, self.subgroups)

    @property
    def last_bmg(self) -> date | None:
        return last_meeting(self.meetings, self.now, self.tz)

    @property
    def next_bmg(self) -> date | None:
        return next_meeting(self.meetings, self.now, self.tz)

    @property
    def _found(self) -> Lookup:
        assert self.lookup is not None  # made by __post_init__
        return self.lookup

    @property
    def vocabulary(self) -> SubgroupIndex:
        """The sub-groups as a message is read against them (the same index while they are the same)."""
        return self._found.vocabulary

    def action(self, ref: str) -> ActionView | None:
        position = self._found.by_ref.get(ref)
        return self.actions[position] if position is not None else None

    def subgroup(self, name_or_alias: str) -> SubgroupView | None:
        return self._found.names.get(name_or_alias.lower())

    def subgroup_names(self) -> list[str]:
        return [n for g in self.subgroups for n in (g.name, *g.aliases)]

    def led_by(self, person_id: int) -> list[ActionView]:
        """Actions the person leads directly or through a sub-group they chair or belong to."""
        found = self._found
        positions = set(found.by_person.get(person_id, ()))
        for group_id in found.groups_of.get(person_id, ()):
            positions.update(found.by_group.get(group_id, ()))
        return [self.actions[p] for p in sorted(positions)]

    def groups_of(self, person_id: int) -> list[SubgroupView]:
        """The sub-groups the person chairs or belongs to, in the plan's order."""
        ids = set(self._found.groups_of.get(person_id, ()))
        return [g for g in self.subgroups if g.id in ids]

    def for_subgroup(self, subgroup_id: int) -> list[ActionView]:
        return [self.actions[p] for p in self._found.by_group.get(subgroup_id, ())]

    def may_update(self, person_id: int, action: ActionView) -> bool:
        """Whether the person leads the action, directly or through a sub-group they chair or belong to."""
        return action.lead_person_id == person_id or action.lead_subgroup_id in self._found.groups_of.get(person_id, ())


def shareable(update: UpdateView, own: tuple[re.Pattern[str], ...] = ()) -> UpdateView:
    """An update as it may leave a 1:1 chat: identifying details removed unless the business unit has
    cleared the note, and a withdrawn note not shown at all."""
    if update.withdrawn:
        return replace(update, comment="")
    if update.cleared or not update.comment:
        return update
    comment = _redacted(update.comment, own)
    return update if comment == update.comment else replace(update, comment=comment)


@lru_cache(maxsize=8192)
def _redacted(note: str, own: tuple[re.Pattern[str], ...]) -> str:
    """Notes do not change once stored, so each is checked once per process."""
    return redact(note, own)


def for_channel(snapshot: Snapshot) -> Snapshot:
    """The snapshot as a channel (or a file, or a summary) may show it: every note made shareable."""
    own = snapshot.case_patterns

    def action(a: ActionView) -> ActionView:
        return replace(
            a,
            latest=shareable(a.latest, own) if a.latest else None,
            history=tuple(shareable(u, own) for u in a.history),
        )

    with checking_many():
        actions = [action(a) for a in snapshot.actions]
    return replace(snapshot, actions=actions, lookup=snapshot._found.moved_to(actions))


def overdue(actions: Iterable[ActionView]) -> list[ActionView]:
    return [a for a in actions if a.overdue]


def due_by(actions: Iterable[ActionView], last_day: date) -> list[ActionView]:
    """Actions with a milestone still to come that falls on or before `last_day`."""
    return [a for a in actions if a.next_due is not None and a.next_due.on <= last_day]


def with_rag(actions: Iterable[ActionView], *rags: Rag) -> list[ActionView]:
    return [a for a in actions if a.rag in rags]


def missing(actions: Iterable[ActionView]) -> list[ActionView]:
    return [a for a in actions if a.missing]


def missed(actions: Iterable[ActionView]) -> list[ActionView]:
    return [a for a in actions if a.missed]


@dataclass(frozen=True)
class Known:
    """What a turn needs about one partnership while its plan is unchanged: the snapshot, and its
    people by Entra object id (rows read with the snapshot, to be read and never changed)."""

    stamp: DataStamp
    day: date
    snapshot: Snapshot
    people: dict[str, Person]
    others: dict[int, Person] = field(default_factory=dict)  # by id: those without an Entra object id
    # By person id: Teams ids stored since the rows were read (storing one is no change to the plan).
    teams_ids: Mapping[int, str] = field(default_factory=dict)
    # Everyone, by id: made once, shared by the copies (2,000 people on a council-wide plan).
    by_id: Mapping[int, Person] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_id:
            object.__setattr__(self, "by_id", {p.id: p for p in self.people.values()} | self.others)

    def person(self, aad_object_id: str | None, teams_user_id: str | None) -> Person | None:
        """The person, if known by object id with this Teams id already remembered (else None: the turn
        that finds them by email, or remembers the id, writes)."""
        person = self.people.get(aad_object_id or "")
        if person is None:
            return None
        return person if self.teams_ids.get(person.id, person.teams_user_id) == teams_user_id else None


@dataclass(frozen=True)
class History:
    """An action's updates (oldest first) and their notes' reviews, as a turn last read them, with the
    action's row and accepted dates read with them (rows to be read, never changed)."""

    entries: tuple[Entry, ...]
    reviews: dict[int, set[ReviewKind]]
    action: ActionRow
    revisions: list[MilestoneRevision]
    shown: Mapping[int, UpdateView] = field(default_factory=dict)  # the updates as last shown, by id
    last_id: int = 0  # the greatest id among the entries: the next read asks for those after it


@dataclass(frozen=True)
class Reread:
    """A kept snapshot with some actions read again after a turn's own update, and what was read."""

    snapshot: Snapshot
    histories: dict[int, History]


@dataclass(frozen=True, eq=False)
class Expected:
    """A turn's update, not yet known to be committed, and the plan as it will be kept once it is: the
    plan went from `before` to `after` by `row` alone (no other write could come between: the turn
    held the plan)."""

    before: DataStamp
    after: DataStamp
    reread: Reread
    row: Entry | None  # None: more than one row, which only the turn itself can say it committed


class SnapshotCache:
    """Snapshots of recently asked-about plans, kept in this process while the plan is unchanged.

    A snapshot is good while the partnership's data stamp (the database's epoch, the version triggers
    bump on every write to that partnership's plan, whoever makes it: this process, another replica,
    the command line, and the version that moves when a partnership itself changes) and the
    partnership's day are the same; everything in it that depends on the time depends only on the
    day. At most `size` partnerships are kept, the least recently asked dropped; and the partnership
    each tenant belongs to, while no partnership itself changes.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.kept: OrderedDict[int, Known] = OrderedDict()
        self.tenants: dict[str, tuple[tuple[str, int], Partnership | None]] = {}
        # The histories of actions updated lately here, each good for the stamp it is kept with.
        self.histories: OrderedDict[int, tuple[DataStamp, History]] = OrderedDict()
        # By partnership: the last update whose turn has yet to say it committed (`expect`).
        self.expected: dict[int, Expected] = {}

    async def partnership(
        self, tenant: str, stamp: DataStamp | None, read: Callable[[], Awaitable[Partnership | None]]
    ) -> Partnership | None:
        """The partnership whose tenant this is (a row to be read, never changed), or None; `read`
        finds it in the database when it is not kept for this stamp."""
        kept = self.tenants.get(tenant)
        if stamp is not None and kept is not None and kept[0] == stamp.shared:
            return kept[1]
        found = await read()
        if stamp is not None:
            if len(self.tenants) >= 16 * self.size:  # tenants nobody of a partnership writes from
                self.tenants.clear()
            self.tenants[tenant] = (stamp.shared, found)
        return found

    def partnership_of(self, tenant: str) -> int | None:
        """The partnership last found for the tenant, whatever the stamp: whose plan's stamp to read
        first (`partnership` says whether it still is)."""
        kept = self.tenants.get(tenant)
        return kept[1].id if kept is not None and kept[1] is not None else None

    async def snapshot(
        self, session: AsyncSession, partnership: Partnership, now: datetime, stamp: DataStamp | None = None
    ) -> Snapshot:
        stamp = stamp or await data_stamp(session, partnership.id)
        return (await self.known(session, partnership, now, stamp)).snapshot

    def latest(self, partnership_id: int) -> Known | None:
        """What is kept for the partnership, whatever its stamp: good for its sub-groups' names, which
        change seldom, not for answers."""
        return self.kept.get(partnership_id)

    def kept_at(
        self, partnership_id: int, stamp: DataStamp | None, now: datetime | None = None, since: bool = False
    ) -> Known | None:
        """What is kept for the partnership at this stamp (and, given `now`, for its day, as of `now`);
        given `since`, or at a later one (a question may be answered from the plan as committed since it
        looked: a burst of updates would otherwise have each question read the plan whole, a step behind)."""
        kept = self.kept.get(partnership_id)
        if kept is None or stamp is None or not (kept.stamp.follows(stamp) if since else kept.stamp == stamp):
            return None
        if now is None:
            return kept
        if now.astimezone(kept.snapshot.tz).date() != kept.day:
            return None
        self.kept.move_to_end(partnership_id)
        return replace(kept, snapshot=replace(kept.snapshot, now=now))

    def expect(self, partnership_id: int, expected: Expected) -> None:
        """A turn holding the plan is about to commit this update: until it says so (`settle`), a turn
        that reads the plan at `after` and finds the row stored may take the plan as the update left it.
        (A waiting turn often reads the plan before the committing one is scheduled to say it committed;
        without this it would read the whole plan again.)"""
        self.expected[partnership_id] = expected

    def settle(self, partnership_id: int, expected: Expected, committed: bool) -> None:
        """The turn that expected this update committed it, or did not: kept for `after`, or forgotten.
        Nothing, if a reader already found it stored, or a later turn expects an update of its own."""
        if self.expected.get(partnership_id) is not expected:
            return
        del self.expected[partnership_id]
        if committed:
            self.advance(partnership_id, expected.before, expected.after, expected.reread)

    async def kept_as_of(
        self, session: AsyncSession, partnership_id: int, stamp: DataStamp | None, since: bool = False
    ) -> Known | None:
        """What is kept for the partnership at this stamp (or, given `since`, later), as `kept_at`; and,
        when the plan is one update past what is kept and that update is the one expected (its row is
        there, as stored), the kept plan with it in (one query, where the plan read again would take dozens)."""
        kept = self.kept.get(partnership_id)
        expected = self.expected.get(partnership_id)
        if (
            kept is not None
            and expected is not None
            and expected.row is not None
            and stamp is not None
            and (kept.stamp, stamp) == (expected.before, expected.after)
            and await _stored(session, expected.row)
        ):
            self.settle(partnership_id, expected, committed=True)
        return self.kept_at(partnership_id, stamp, since=since)

    def seen(self, partnership_id: int, stamp: DataStamp, aad_object_id: str, teams_user_id: str) -> None:
        """A committed turn found this person at `stamp` with this Teams id stored (by it, or before it):
        the plan kept at that stamp or since knows them by it from now on. Storing a Teams id changes
        no plan (its stamp stays), so without this their next message would be taken as a first one."""
        kept = self.kept.get(partnership_id)
        if kept is None or not kept.stamp.follows(stamp):
            return
        person = kept.people.get(aad_object_id)
        if person is not None and kept.person(aad_object_id, teams_user_id) is None:
            self.kept[partnership_id] = replace(kept, teams_ids={**kept.teams_ids, person.id: teams_user_id})

    def advance(self, partnership_id: int, before: DataStamp, after: DataStamp, reread: Reread) -> None:
        """After a committed turn whose own writes (and no one else's) took the partnership's plan from
        `before` to `after`: keep the snapshot with those writes in it, and the histories read for it,
        for `after`; and every other action's history kept for `before`, which those writes left as it was."""
        kept = self.kept_at(partnership_id, before)
        if kept is not None:
            self.kept[partnership_id] = replace(kept, stamp=after, snapshot=reread.snapshot)
        for action_id, (stamp, history) in self.histories.items():  # the plan's other actions are as they were
            if stamp == before:
                self.histories[action_id] = (after, history)
        for action_id, history in reread.histories.items():
            self.histories[action_id] = (after, history)
            self.histories.move_to_end(action_id)
        while len(self.histories) > 4 * self.size:
            self.histories.popitem(last=False)

    async def reread(
        self, session: AsyncSession, known: Known, refs: Iterable[str], now: datetime, alone: Update | None = None
    ) -> Reread:
        """The kept snapshot with these actions read again, the rest as they were: for a turn whose own
        writes added updates to these actions and changed nothing else. An action whose history is kept
        for the snapshot's stamp reads only the updates stored since (its row and accepted dates, which
        an update does not change, are as kept); none, given `alone`: the one update stored since, as
        the turn stored it (a new row, whose note nobody has reviewed yet)."""
        snapshot = known.snapshot
        wanted = set(refs)
        places = {a.id: position for position, a in enumerate(snapshot.actions) if a.ref in wanted}
        old = {action_id: snapshot.actions[position] for action_id, position in places.items()}
        if not old:
            return Reread(snapshot, {})
        ids = list(old)
        kept: dict[int, History] = {}
        for action_id in ids:
            stamp, history = self.histories.get(action_id, (None, None))
            if stamp == known.stamp and history is not None:
                kept[action_id] = history
        unkept = [i for i in ids if i not in kept]
        rows = {i: kept[i].action for i in kept}
        revisions = {i: kept[i].revisions for i in kept}
        if unkept:
            rows |= {a.id: a for a in await PlanRepository(session).action_rows(ids=unkept)}
            revisions |= await RevisionRepository(session).for_actions(unkept)
        people = known.by_id
        same_day = now.astimezone(snapshot.tz).date() == known.day
        histories: dict[int, History] = {}
        fresh: dict[int, ActionView] = {}
        for action_id in ids:
            if action_id not in rows:
                continue
            prior = kept.get(action_id)
            if prior is not None:
                if alone is not None and alone.action_id == action_id:
                    new, reviews = [entry_of(alone)], prior.reviews
                else:
                    new = (await _histories(session, [action_id], since=prior.last_id))[action_id]
                    reviews = prior.reviews | await NoteRepository(session).reviews(e.id for e in new)
                appended = _appended(old[action_id], prior, new, reviews, people, snapshot, now) if same_day else None
                if appended is not None:
                    fresh[action_id], histories[action_id] = appended
                    continue
                entries = tuple(sorted((*prior.entries, *new), key=lambda e: (e.created_at, e.id)))
            else:
                entries = tuple((await _histories(session, [action_id]))[action_id])
                reviews = dict(await NoteRepository(session).reviews(e.id for e in entries))
            view = _action_view(
                rows[action_id],
                list(entries),
                revisions[action_id],
                reviews,
                old[action_id].objective,
                old[action_id].lead,
                snapshot.meetings,
                people,
                now,
                snapshot.tz,
                shown_before=prior.shown if prior is not None else None,
            )
            # The views of its updates, in the history's order (withdrawals are not shown), kept for the next.
            shown = dict(zip((e.id for e in entries if e.withdraws_id is None), view.history, strict=True))
            last_id = max((e.id for e in entries), default=0)
            histories[action_id] = History(entries, reviews, rows[action_id], revisions[action_id], shown, last_id)
            fresh[action_id] = view
        actions = list(snapshot.actions)
        for action_id, view in fresh.items():
            actions[places[action_id]] = view
        lookup = snapshot._found.moved_to(actions, changed=[places[i] for i in fresh])
        return Reread(replace(snapshot, now=now, actions=actions, lookup=lookup), histories)

    async def known(
        self,
        session: AsyncSession,
        partnership: Partnership,
        now: datetime,
        stamp: DataStamp | None,
        since: bool = False,
    ) -> Known:
        """Everything kept about the partnership as of `stamp` (given `since`, or later: for a question),
        read with `session` if it is not kept."""
        day = now.astimezone(ZoneInfo(partnership.timezone)).date()
        kept = await self.kept_as_of(session, partnership.id, stamp, since)
        if stamp is not None and kept is not None and kept.day == day:
            self.kept.move_to_end(partnership.id)
            return replace(kept, snapshot=replace(kept.snapshot, now=now))
        snapshot = await load_snapshot(session, partnership, now)
        everyone = await PeopleRepository(session).people(partnership)
        people = {p.aad_object_id: p for p in everyone if p.aad_object_id}
        others = {p.id: p for p in everyone if not p.aad_object_id}
        known = Known(stamp or DataStamp("", -1, partnership.id, -1), day, snapshot, people, others)
        if stamp is not None:
            self.kept[partnership.id] = known
            self.kept.move_to_end(partnership.id)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return known


async def load_snapshot(session: AsyncSession, partnership: Partnership, now: datetime) -> Snapshot:
    tz = ZoneInfo(partnership.timezone)
    plans = PlanRepository(session)
    plan = await plans.current(partnership)
    actions = await plans.action_rows(plan)
    objectives = await plans.objective_titles(plan)
    histories = await _histories(session, [a.id for a in actions])
    revisions = await RevisionRepository(session).for_actions([a.id for a in actions])
    reviews = await NoteRepository(session).reviews(u.id for h in histories.values() for u in h)
    meetings = await MeetingRepository(session).dates(partnership)
    people_repo = PeopleRepository(session)
    people = {p.id: p for p in await people_repo.people(partnership)}
    groups = await people_repo.subgroups(partnership)
    members: dict[int, set[int]] = {g.id: set() for g in groups}
    for subgroup_id, person_id in await session.execute(
        select(Membership.subgroup_id, Membership.person_id).where(Membership.subgroup_id.in_(list(members)))
    ):
        members[subgroup_id].add(person_id)
    group_names = {g.id: g.name for g in groups}

    views = [
        _action_view(
            action,
            histories[action.id],
            revisions[action.id],
            reviews,
            objectives[action.objective_id],
            _lead_label(action.lead_subgroup_id, action.lead_person_id, action.lead_text, group_names, people),
            meetings,
            people,
            now,
            tz,
        )
        for action in actions
    ]
    return Snapshot(
        partnership=partnership.short_name,
        plan=plan.title,
        now=now,
        tz=tz,
        actions=views,
        meetings=meetings,
        subgroups=[SubgroupView(g.id, g.name, tuple(g.aliases), g.chair_id, frozenset(members[g.id])) for g in groups],
        people={p.id: p.name for p in people.values()},
        admins=[p.name for p in people.values() if p.role is Role.ADMIN],
        case_patterns=_compiled(tuple(partnership.privacy_patterns or ())),
    )


def _action_view(
    action: ActionRow,
    history: list[Entry],
    accepted: list[MilestoneRevision],
    reviews: dict[int, set[ReviewKind]],
    objective: str,
    lead: str,
    meetings: list[date],
    people: Mapping[int, Person],
    now: datetime,
    tz: ZoneInfo,
    shown_before: Mapping[int, UpdateView] | None = None,
) -> ActionView:
    """The action as shown. `shown_before`: its updates as shown when last built, by id, to be reused
    (good while their authors' names and their notes' reviews are unchanged)."""
    withdrawn = {u.withdraws_id for u in history if u.withdraws_id is not None}
    history_facts = [UpdateFacts(id=u.id, at=u.created_at, rag=u.rag, withdraws=u.withdraws_id) for u in history]
    latest = current_update(history_facts)
    current = next(u for u in history if u.id == latest.id) if latest else None
    rag = current.rag if current else None
    # Each update as shown, once; the current one is never withdrawn, so it is shown as in the history.
    shown = _shown_updates(history, people, tz, withdrawn, reviews, shown_before or {})
    agreed = [replace(revision(r), agreed=r.accepted_at.astimezone(tz)) for r in accepted]
    milestones = effective_milestones(action.dues, agreed)
    action_dues = tuple(m.due for m in milestones)
    late = overdue_since(action_dues, rag, now, tz)
    proposal = _proposed(history, withdrawn)
    pending = proposal is not None and proposal.id not in {r.proposal_id for r in accepted}
    return ActionView(
        id=action.id,
        ref=action.ref,
        description=action.description,
        objective=objective,
        lead=lead,
        lead_subgroup_id=action.lead_subgroup_id,
        lead_person_id=action.lead_person_id,
        measure=action.success_measure,
        dues=action_dues,
        rag=rag,
        latest=shown[current.id] if current else None,
        history=tuple(shown.values()),
        next_due=next_due(action_dues, now, tz),
        overdue=late is not None,
        missing=is_missing_update(history_facts, meetings, now, tz),
        proposed=Due(proposal.revised_due_on, proposal.revised_precision)
        if pending and proposal and proposal.revised_due_on and proposal.revised_precision
        else None,
        overdue_since=late,
        overdue_for=late_by(late, now, tz) if late else None,
        missed=missed_reports(action_dues, history_facts, now, tz),
        milestones=milestones,
        proposal_id=proposal.id if proposal else None,
        proposed_at=proposal.created_at if proposal else None,
    )


def _appended(
    view: ActionView,
    prior: History,
    new: list[Entry],
    reviews: dict[int, set[ReviewKind]],
    people: Mapping[int, Person],
    snapshot: Snapshot,
    now: datetime,
) -> tuple[ActionView, History] | None:
    """The action's view and history with `new` updates added, worked out from those updates alone (an
    action updated for years must not cost a pass over all its history on each update), when they change
    nothing but its rating and its latest update: each a rated update that withdraws nothing and proposes
    no date, none earlier than the last one before, and all after the end of the last milestone that has
    passed (so that no report window already closed gains one). `view` must be as of today. None
    otherwise: the caller goes through the whole history."""
    if not new or not prior.entries:
        return None
    order = (prior.entries[-1].created_at, prior.entries[-1].id)
    for entry in new:
        if entry.withdraws_id is not None or entry.revised_due_on is not None or entry.rag is None:
            return None
        if (entry.created_at, entry.id) < order:
            return None
        order = (entry.created_at, entry.id)
    tz = snapshot.tz
    last_closed = max((end for end in (end_of_day(due.on, tz) for due in view.dues) if end <= now), default=None)
    if last_closed is not None and new[0].created_at < last_closed:
        return None
    shown = {e.id: _update_view(e, people, tz, reviews=reviews) for e in new}
    current = new[-1]
    late = overdue_since(view.dues, current.rag, now, tz)
    facts = UpdateFacts(id=current.id, at=current.created_at, rag=current.rag)
    fresh = replace(
        view,
        rag=current.rag,
        latest=shown[current.id],
        history=view.history + tuple(shown.values()),
        next_due=next_due(view.dues, now, tz),
        overdue=late is not None,
        overdue_since=late,
        overdue_for=late_by(late, now, tz) if late else None,
        missing=is_missing_update([facts], snapshot.meetings, now, tz),
    )
    last_id = max(prior.last_id, *(e.id for e in new))
    history = replace(
        prior, entries=prior.entries + tuple(new), reviews=reviews, shown={**prior.shown, **shown}, last_id=last_id
    )
    return fresh, history


@lru_cache(maxsize=64)
def _compiled(sources: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return own_patterns(sources)


class Entry(NamedTuple):
    """An update as a snapshot reads it: the columns it needs, as a plain row (a plan's whole history is
    read for every snapshot, and ORM objects cost several times as much to build and to read)."""

    id: int
    action_id: int
    rag: Rag | None
    comment: str
    author_id: int | None
    author_name: str | None
    created_at: datetime
    revised_due_on: date | None
    revised_precision: Precision | None
    withdraws_id: int | None


_ENTRY_COLUMNS = [getattr(Update, name) for name in Entry._fields]


def entry_of(update: Update) -> Entry:
    """A stored update as a snapshot reads it."""
    return Entry(*(getattr(update, name) for name in Entry._fields))


async def _histories(session: AsyncSession, action_ids: list[int], since: int = 0) -> dict[int, list[Entry]]:
    """Each action's updates (those after the update `since`), oldest first, in one query (as
    `UpdateRepository.histories`, as rows)."""
    found: dict[int, list[Entry]] = {action_id: [] for action_id in action_ids}
    if action_ids:
        query = (
            select(*_ENTRY_COLUMNS)
            .where(Update.action_id.in_(action_ids), Update.id > since)
            .order_by(Update.created_at, Update.id)
        )
        for row in await session.execute(query):
            entry = Entry(*row)
            found[entry.action_id].append(entry)
    return found


async def _stored(session: AsyncSession, row: Entry) -> bool:
    """Is this update stored, as it was given (the same id could be another row's, on SQLite, after the
    transaction that gave it rolled back)?"""
    found = (await session.execute(select(*_ENTRY_COLUMNS).where(Update.id == row.id))).first()
    return found is not None and Entry(*found) == row


def _proposed(history: list[Entry], withdrawn: set[int]) -> Entry | None:
    """The latest live update that proposed a revised date, if any."""
    for update in reversed(history):
        if update.revised_due_on and update.revised_precision and update.id not in withdrawn:
            return update
    return None


def _lead_label(
    subgroup_id: int | None,
    person_id: int | None,
    printed: str | None,
    groups: dict[int, str],
    people: Mapping[int, Person],
) -> str:
    if subgroup_id is not None:
        return groups[subgroup_id]
    if person_id is not None:
        person = people[person_id]
        return f"{person.name} ({person.job_title})" if person.job_title else person.name
    return printed or "no lead"


def _shown_updates(
    history: Iterable[Entry],
    people: Mapping[int, Person],
    tz: ZoneInfo,
    withdrawn: set[int],
    reviews: dict[int, set[ReviewKind]],
    before: Mapping[int, UpdateView],
) -> dict[int, UpdateView]:
    """Each update of an action as shown (withdrawals are not shown), by id, in the history's order;
    one shown before is reused unless it has been withdrawn since."""
    shown = {}
    for u in history:
        if u.withdraws_id is not None:
            continue
        kept = before.get(u.id)
        if kept is not None and kept.withdrawn == (u.id in withdrawn):
            shown[u.id] = kept
        else:
            shown[u.id] = _update_view(u, people, tz, withdrawn=u.id in withdrawn, reviews=reviews)
    return shown


def _update_view(
    update: Entry,
    people: Mapping[int, Person],
    tz: ZoneInfo,
    withdrawn: bool = False,
    reviews: dict[int, set[ReviewKind]] | None = None,
) -> UpdateView:
    """An update as shown: its time in the partnership's timezone, its author by name, how its note was reviewed."""
    person = people.get(update.author_id) if update.author_id is not None else None
    author = person.name if person is not None else update.author_name
    at = update.created_at.astimezone(tz)
    kinds = (reviews or {}).get(update.id, set())
    return UpdateView(
        rag=update.rag,
        comment=update.comment,
        author=author,
        at=at,
        withdrawn=withdrawn,
        cleared=ReviewKind.CLEARED in kinds,
        redacted=ReviewKind.REDACTED in kinds,
    )
