"""Writing a validated plan into the database, in place.

Importing the same plan again updates partnership, people, sub-groups, objectives and actions in
place and keeps every progress update; actions that left the plan are archived, never deleted, so
their history stays. The caller runs the whole import in one transaction: on any error nothing is
written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import redact
from bot.rules import Due, Rag
from storage.errors import PlanFileError
from storage.models import (
    Action,
    Meeting,
    Membership,
    Milestone,
    Objective,
    Partnership,
    Person,
    Plan,
    Priority,
    Source,
    SubGroup,
    Update,
)
from storage.planfile import ActionSpec, LeadIndex, ObjectiveSpec, PlanFile
from storage.repositories import UpdateRepository


@dataclass
class ImportReport:
    partnership: str
    plan: str
    priorities: int = 0
    objectives: int = 0
    actions: int = 0
    subgroups: int = 0
    people: int = 0
    meetings: int = 0
    updates_added: int = 0
    archived: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.partnership} '{self.plan}': {self.priorities} priorities, {self.objectives} objectives, "
            f"{self.actions} actions, {self.subgroups} sub-groups, {self.people} people, "
            f"{self.meetings} BMG meetings, {self.updates_added} progress updates added"
        )
        if self.archived:
            text += f"; archived (no longer in the plan): {', '.join(self.archived)}"
        return text


@dataclass(frozen=True)
class Progress:
    """A progress cell pair read from a spreadsheet: becomes an update if it differs from the current one."""

    rag: Rag
    comment: str


Locate = Callable[[str], str]
"""Says where an action came from ("plan.xlsx row 7"), for error messages."""


async def import_plan_file(session: AsyncSession, spec: PlanFile, source: str) -> ImportReport:
    """Write a whole plan file: partnership, people, sub-groups, plan, objectives, actions, meetings, updates."""
    partnership = await _upsert_partnership(session, spec)
    people = await _upsert_people(session, partnership, spec)
    subgroups = await _upsert_subgroups(session, partnership, spec, people)
    plan = await upsert_plan(session, partnership, spec.plan.title, spec.plan.starts, spec.plan.ends, spec.notes)
    priorities = await _upsert_priorities(session, plan, spec)
    report = ImportReport(
        partnership=partnership.short_name,
        plan=plan.title,
        priorities=len(spec.priorities),
        subgroups=len(subgroups),
        people=len(people),
        meetings=len(spec.meetings),
    )
    await _upsert_meetings(session, partnership, spec)
    actions = await apply_objectives(
        session, partnership, plan, spec.objectives, priorities, report, lambda ref: f"{source}: action {ref}"
    )
    updates = UpdateRepository(session)
    for objective in spec.objectives:
        for action_spec in objective.actions:
            report.updates_added += await _add_file_updates(updates, actions[action_spec.ref], action_spec, people)
    return report


async def upsert_plan(
    session: AsyncSession,
    partnership: Partnership,
    title: str,
    starts: object = None,
    ends: object = None,
    notes: str | None = None,
) -> Plan:
    plan = await session.scalar(select(Plan).where(Plan.partnership_id == partnership.id, Plan.title == title))
    if plan is None:
        plan = Plan(partnership_id=partnership.id, title=title)
        session.add(plan)
    if starts is not None:
        plan.starts_on = starts  # type: ignore[assignment]
    if ends is not None:
        plan.ends_on = ends  # type: ignore[assignment]
    if notes is not None:
        plan.notes = notes
    await session.flush()
    return plan


async def apply_objectives(
    session: AsyncSession,
    partnership: Partnership,
    plan: Plan,
    objectives: Sequence[ObjectiveSpec],
    priorities: dict[int, Priority],
    report: ImportReport,
    locate: Locate,
) -> dict[str, Action]:
    """Upsert objectives and actions by number and ref; archive the plan's actions that are not listed."""
    leads = await lead_index(session, partnership)
    existing_objectives = {
        o.number: o for o in await session.scalars(select(Objective).where(Objective.plan_id == plan.id))
    }
    existing_actions = {a.ref: a for a in await session.scalars(select(Action).where(Action.plan_id == plan.id))}
    written: dict[str, Action] = {}
    for objective_spec in objectives:
        objective = existing_objectives.get(objective_spec.number)
        if objective is None:
            objective = Objective(plan_id=plan.id, number=objective_spec.number)
            session.add(objective)
        objective.title = objective_spec.title
        priority = priorities.get(objective_spec.priority) if objective_spec.priority else None
        objective.priority_id = priority.id if priority else None
        await session.flush()
        for position, action_spec in enumerate(objective_spec.actions, start=1):
            action = existing_actions.get(action_spec.ref) or Action(plan_id=plan.id, ref=action_spec.ref)
            if action.id is None:
                session.add(action)
            _fill_action(action, action_spec, objective, position, leads, locate)
            written[action.ref] = action
    for ref, action in existing_actions.items():
        if ref not in written and not action.archived:
            action.archived = True
            report.archived.append(ref)
    report.objectives = len(objectives)
    report.actions = len(written)
    await session.flush()
    return written


def _fill_action(
    action: Action,
    spec: ActionSpec,
    objective: Objective,
    position: int,
    leads: LeadIndex[SubGroup | Person],
    locate: Locate,
) -> None:
    lead = leads.find(spec.lead) if spec.lead else None
    if spec.lead and lead is None:
        raise PlanFileError(
            f"{locate(spec.ref)}: the lead '{spec.lead}' is not a sub-group or person of this partnership; "
            "add it (or an alias) to the plan file's sub-groups, or correct the name"
        )
    action.objective_id = objective.id
    action.position = position
    action.description = spec.description
    action.success_measure = spec.success_measure
    action.reporting_body = spec.reporting_body or reporting_body([m.text for m in spec.measures])
    action.lead_text = spec.lead
    action.lead_subgroup_id = lead.id if isinstance(lead, SubGroup) else None
    action.lead_person_id = lead.id if isinstance(lead, Person) else None
    action.archived = False
    milestones = [(measure.text, due) for measure in spec.measures for due in measure.due]
    if _milestone_key(action.milestones if action.id else []) != [(t, d.on, d.precision) for t, d in milestones]:
        action.milestones = [
            Milestone(position=i, due_on=due.on, precision=due.precision, label=text)
            for i, (text, due) in enumerate(milestones, start=1)
        ]


def _milestone_key(milestones: Sequence[Milestone]) -> list[tuple[str | None, object, object]]:
    return [(m.label, m.due_on, m.precision) for m in milestones]


_BODY = re.compile(r"\b(?:to|by)\s+(?:the\s+)?([A-Z]{2,8})\b")


def reporting_body(measures: Sequence[str]) -> str | None:
    """The body an action reports to, read from its measures ("Children's QA subgroup report to BMG" -> BMG)."""
    found = [m[1] for text in measures for m in _BODY.finditer(text)]
    return found[-1] if found else None


async def lead_index(session: AsyncSession, partnership: Partnership) -> LeadIndex[SubGroup | Person]:
    index: LeadIndex[SubGroup | Person] = LeadIndex()
    for group in await session.scalars(select(SubGroup).where(SubGroup.partnership_id == partnership.id)):
        for name in [group.name, *group.aliases]:
            index.add(name, group)
    for person in await session.scalars(select(Person).where(Person.partnership_id == partnership.id)):
        for label in (person.name, person.job_title, person.email):
            if label:
                index.add(label, person)
    return index


async def add_progress(
    updates: UpdateRepository, action: Action, progress: Progress, at: datetime, author_name: str
) -> bool:
    """Record a progress cell as an update unless it repeats the action's current status, as written or
    as an export gave it (with identifying details removed)."""
    current = await updates.current(action.id)
    if (
        current is not None
        and current.rag == progress.rag
        and progress.comment in {current.comment, redact(current.comment)}
    ):
        return False
    await updates.append(
        Update(
            action_id=action.id,
            rag=progress.rag,
            comment=progress.comment,
            author_name=author_name,
            created_at=at,
            source=Source.IMPORT,
        )
    )
    return True


async def _add_file_updates(
    updates: UpdateRepository, action: Action, spec: ActionSpec, people: dict[str, Person]
) -> int:
    """A plan file's history: each entry is added once, however often the file is imported."""
    known = {(u.rag, u.comment, u.author_name) for u in await updates.history(action.id)}
    added = 0
    for entry in spec.updates:
        author = people.get(entry.by.lower()) if entry.by else None
        author_name = author.name if author else None
        if (entry.rag, entry.comment, author_name) in known:
            continue
        await updates.append(
            Update(
                action_id=action.id,
                rag=entry.rag,
                comment=entry.comment,
                author_id=author.id if author else None,
                author_name=author_name,
                created_at=entry.at,
                source=Source.IMPORT,
            )
        )
        added += 1
    return added


async def _upsert_partnership(session: AsyncSession, spec: PlanFile) -> Partnership:
    wanted = spec.partnership
    partnership = await session.scalar(select(Partnership).where(Partnership.short_name == wanted.short_name))
    if wanted.tenant_id:
        holder = await session.scalar(select(Partnership).where(Partnership.tenant_id == wanted.tenant_id))
        if holder is not None and holder is not partnership:
            raise PlanFileError(
                f"tenant {wanted.tenant_id} already belongs to {holder.short_name}; one tenant serves one partnership"
            )
    if partnership is None:
        partnership = Partnership(short_name=wanted.short_name)
        session.add(partnership)
    partnership.name = wanted.name
    partnership.tenant_id = wanted.tenant_id or partnership.tenant_id
    partnership.timezone = wanted.timezone
    partnership.privacy_patterns = list(wanted.privacy.case_id_patterns)
    await session.flush()
    return partnership


async def _upsert_people(session: AsyncSession, partnership: Partnership, spec: PlanFile) -> dict[str, Person]:
    """People by lower-case email (or by name where a person has no email)."""
    existing = list(await session.scalars(select(Person).where(Person.partnership_id == partnership.id)))
    by_email = {p.email.lower(): p for p in existing if p.email}
    by_name = {p.name.lower(): p for p in existing if not p.email}
    result: dict[str, Person] = {}
    for wanted in spec.people:
        key = wanted.email.lower() if wanted.email else wanted.name.lower()
        person = (by_email if wanted.email else by_name).get(key)
        if person is None:
            person = Person(partnership_id=partnership.id)
            session.add(person)
        person.name = wanted.name
        person.email = wanted.email
        person.job_title = wanted.job_title
        person.role = wanted.role
        person.aad_object_id = wanted.aad_object_id or person.aad_object_id
        result[key] = person
    await session.flush()
    return result


async def _upsert_subgroups(
    session: AsyncSession, partnership: Partnership, spec: PlanFile, people: dict[str, Person]
) -> list[SubGroup]:
    existing = {
        g.name.lower(): g
        for g in await session.scalars(select(SubGroup).where(SubGroup.partnership_id == partnership.id))
    }
    groups: list[SubGroup] = []
    for wanted in spec.subgroups:
        group = existing.get(wanted.name.lower())
        if group is None:
            group = SubGroup(partnership_id=partnership.id)
            session.add(group)
        group.name = wanted.name
        group.aliases = list(wanted.aliases)
        group.chair_id = people[wanted.chair.lower()].id if wanted.chair else None
        groups.append(group)
    await session.flush()
    for group, wanted in zip(groups, spec.subgroups, strict=True):
        members = {people[m.lower()].id for m in wanted.members}
        current = set(await session.scalars(select(Membership.person_id).where(Membership.subgroup_id == group.id)))
        for person_id in members - current:
            session.add(Membership(subgroup_id=group.id, person_id=person_id))
        for person_id in current - members:
            await session.delete(await session.get_one(Membership, (group.id, person_id)))
    await session.flush()
    return groups


async def _upsert_priorities(session: AsyncSession, plan: Plan, spec: PlanFile) -> dict[int, Priority]:
    existing = {p.number: p for p in await session.scalars(select(Priority).where(Priority.plan_id == plan.id))}
    for wanted in spec.priorities:
        priority = existing.get(wanted.number)
        if priority is None:
            priority = existing[wanted.number] = Priority(plan_id=plan.id, number=wanted.number)
            session.add(priority)
        priority.title = wanted.title
    listed = {p.number for p in spec.priorities}
    for number, priority in list(existing.items()):
        if number not in listed:
            await session.delete(priority)
            del existing[number]
    await session.flush()
    return existing


async def _upsert_meetings(session: AsyncSession, partnership: Partnership, spec: PlanFile) -> None:
    """Meetings in the file are added; meetings set since (in Teams or the CLI) are kept."""
    have = set(await session.scalars(select(Meeting.meets_on).where(Meeting.partnership_id == partnership.id)))
    for day in spec.meetings:
        if day not in have:
            session.add(Meeting(partnership_id=partnership.id, meets_on=day))
    await session.flush()


def due_of(milestone: Milestone) -> Due:
    return Due(milestone.due_on, milestone.precision)
