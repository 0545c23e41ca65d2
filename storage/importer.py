"""Writing a validated plan into the database, in place.

Importing the same plan again updates partnership, people, sub-groups, objectives and actions in
place and keeps every progress update; actions that left the plan are archived, never deleted, so
their history stays. People are matched by email first (a renamed person keeps their history); a
person no longer in the file keeps their row (their updates name them) but loses their role and
Entra id. What changed is recorded in the audit log. The caller runs the whole import in one
transaction: on any error nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import redact
from bot.rules import Due, Rag
from storage.audit import Actor, AuditRepository, Operator, actor_for
from storage.errors import PlanFileError
from storage.models import (
    Action,
    AuditKind,
    Meeting,
    Membership,
    Milestone,
    Objective,
    Partnership,
    Person,
    Plan,
    Priority,
    Role,
    Source,
    SubGroup,
    Update,
)
from storage.planfile import ActionSpec, LeadIndex, ObjectiveSpec, PlanFile
from storage.repositories import UpdateRepository

SHOWN_CHANGES = 20  # items of each list in an import's summary; a first import of a council's plan adds 3,000


def _some(items: list[str]) -> str:
    if len(items) <= SHOWN_CHANGES:
        return ", ".join(items)
    return f"{', '.join(items[:SHOWN_CHANGES])} and {len(items) - SHOWN_CHANGES:,} more"


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
    # What this import changed (the audit log's diff):
    actions_added: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    leads: list[str] = field(default_factory=list)
    milestones: list[str] = field(default_factory=list)
    people_added: list[str] = field(default_factory=list)
    people_removed: list[str] = field(default_factory=list)
    roles_changed: list[str] = field(default_factory=list)  # "Fiona McLeod: member -> admin"
    meetings_added: int = 0

    def changes(self) -> str:
        """The diff, for a person: what this import added, changed and archived, each list cut to its
        first SHOWN_CHANGES and a count of the rest (the audit log's detail keeps every one)."""
        parts = [
            f"{label} {_some(items)}"
            for label, items in (
                ("actions added:", self.actions_added),
                ("descriptions changed:", self.descriptions),
                ("leads changed:", self.leads),
                ("milestones changed:", self.milestones),
                ("actions archived:", self.archived),
                ("people added:", self.people_added),
                ("people removed (role revoked):", self.people_removed),
                ("roles changed:", self.roles_changed),
            )
            if items
        ]
        if self.meetings_added:
            parts.append(f"BMG meetings added: {self.meetings_added}")
        if self.updates_added:
            parts.append(f"progress updates added: {self.updates_added}")
        return "; ".join(parts) if parts else "no changes"

    def diff(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "actions_added": self.actions_added,
            "descriptions_changed": self.descriptions,
            "leads_changed": self.leads,
            "milestones_changed": self.milestones,
            "actions_archived": self.archived,
            "people_added": self.people_added,
            "people_removed": self.people_removed,
            "roles_changed": self.roles_changed,
            "meetings_added": self.meetings_added,
            "updates_added": self.updates_added,
        }

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


async def import_plan_file(
    session: AsyncSession,
    spec: PlanFile,
    source: str,
    *,
    by: Actor | Operator | None = None,
    at: datetime | None = None,
) -> ImportReport:
    """Write a whole plan file: partnership, people, sub-groups, plan, objectives, actions, meetings, updates;
    then record in the audit log who imported it and what changed."""
    at = at or datetime.now(UTC)
    partnership = await _upsert_partnership(session, spec)
    report = ImportReport(partnership=partnership.short_name, plan=spec.plan.title)
    people = await _upsert_people(session, partnership, spec, report)
    subgroups = await _upsert_subgroups(session, partnership, spec, people)
    plan = await upsert_plan(session, partnership, spec.plan.title, spec.plan.starts, spec.plan.ends, spec.notes)
    priorities = await _upsert_priorities(session, plan, spec)
    report.plan = plan.title
    report.priorities = len(spec.priorities)
    report.subgroups = len(subgroups)
    report.people = len(people)
    report.meetings = len(spec.meetings)
    report.meetings_added = await _upsert_meetings(session, partnership, spec)
    actions = await apply_objectives(
        session, partnership, plan, spec.objectives, priorities, report, lambda ref: f"{source}: action {ref}"
    )
    updates = UpdateRepository(session)
    for objective in spec.objectives:
        for action_spec in objective.actions:
            report.updates_added += await _add_file_updates(updates, actions[action_spec.ref], action_spec, people)
    await record_import(session, partnership, report, source, by, at)
    return report


async def record_import(
    session: AsyncSession,
    partnership: Partnership,
    report: ImportReport,
    source: str,
    by: Actor | Operator | None,
    at: datetime,
) -> None:
    """The import in the audit log, with its diff; and each person added, removed or given another role."""
    actor = await actor_for(session, partnership, by)
    audit = AuditRepository(session)
    await audit.record(
        partnership.id,
        AuditKind.IMPORT,
        actor,
        f"imported {source} into '{report.plan}': {report.changes()}",
        {"file": source, **report.diff()},
        at,
    )
    for kind, names, what in (
        (AuditKind.PERSON_ADDED, report.people_added, "added from the plan file"),
        (AuditKind.PERSON_REMOVED, report.people_removed, "no longer in the plan file: role revoked, Entra id cleared"),
        (AuditKind.ROLE_CHANGED, report.roles_changed, "role changed by the plan file"),
    ):
        for name in names:
            await audit.record(partnership.id, kind, actor, f"{name}: {what}", {"file": source}, at)


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
                report.actions_added.append(action_spec.ref)
            changed = _fill_action(action, action_spec, objective, position, leads, locate)
            for aspect, refs in (
                ("description", report.descriptions),
                ("lead", report.leads),
                ("milestones", report.milestones),
            ):
                if aspect in changed:
                    refs.append(action_spec.ref)
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
) -> set[str]:
    """Write the action's cells; says which of an existing action's description, lead and milestones changed."""
    lead = leads.find(spec.lead) if spec.lead else None
    if spec.lead and lead is None:
        raise PlanFileError(
            f"{locate(spec.ref)}: the lead '{spec.lead}' is not a sub-group or person of this partnership; "
            "add it (or an alias) to the plan file's sub-groups, or correct the name"
        )
    existing = action.id is not None
    before = (action.description, (action.lead_subgroup_id, action.lead_person_id, action.lead_text))
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
    changed = set()
    if _milestone_key(action.milestones if action.id else []) != [(t, d.on, d.precision) for t, d in milestones]:
        action.milestones = [
            Milestone(position=i, due_on=due.on, precision=due.precision, label=text)
            for i, (text, due) in enumerate(milestones, start=1)
        ]
        changed.add("milestones")
    if not existing:
        return set()
    if before[0] != action.description:
        changed.add("description")
    if before[1] != (action.lead_subgroup_id, action.lead_person_id, action.lead_text):
        changed.add("lead")
    return changed


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
    for person in await session.scalars(
        select(Person).where(Person.partnership_id == partnership.id, Person.role != Role.REMOVED)
    ):
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
    """A plan file's history: each entry is added once, however often the file is imported.

    An entry is known by when it was posted and its rating, not by its author's name (which a rename
    or an erasure changes) nor its note (which a redaction replaces).
    """
    known = {(u.created_at, u.rag) for u in await updates.history(action.id)}
    new = []
    for entry in spec.updates:
        author = people.get(entry.by.lower()) if entry.by else None
        author_name = author.name if author else None
        if (entry.at, entry.rag) in known:
            continue
        new.append(
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
    await updates.extend(new)
    return len(new)


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


async def _upsert_people(
    session: AsyncSession, partnership: Partnership, spec: PlanFile, report: ImportReport
) -> dict[str, Person]:
    """People by lower-case email (or by name where a person has no email).

    Matched by email first, so a renamed person keeps their row and history; then by name, for a
    person without an email (or whose email changed). Anyone the file no longer lists loses their
    role and Entra id; their row stays, so the updates they posted still name them.
    """
    existing = list(
        await session.scalars(select(Person).where(Person.partnership_id == partnership.id).order_by(Person.id))
    )
    by_email = {p.email.lower(): p for p in existing if p.email}
    listed = {w.email.lower() for w in spec.people if w.email}
    result: dict[str, Person] = {}
    matched: set[int] = set()
    for wanted in spec.people:
        key = wanted.email.lower() if wanted.email else wanted.name.lower()
        person = by_email.get(wanted.email.lower()) if wanted.email else None
        if person is None:
            person = next(
                (
                    p
                    for p in existing
                    if p.id not in matched
                    and p.name.lower() == wanted.name.lower()
                    and (not p.email or p.email.lower() not in listed)
                ),
                None,
            )
        if person is None:
            person = Person(partnership_id=partnership.id)
            session.add(person)
            report.people_added.append(wanted.name)
        elif person.role is Role.REMOVED:
            report.people_added.append(f"{wanted.name} (back in the plan file)")
        elif person.role is not wanted.role:
            report.roles_changed.append(f"{wanted.name}: {person.role.value} -> {wanted.role.value}")
        person.name = wanted.name
        person.email = wanted.email
        person.job_title = wanted.job_title
        person.role = wanted.role
        person.aad_object_id = wanted.aad_object_id or person.aad_object_id
        result[key] = person
        if person.id is not None:
            matched.add(person.id)
    for person in existing:
        if person.id not in matched and person.role is not Role.REMOVED:
            revoke(person)
            report.people_removed.append(person.name)
    await session.flush()
    return result


def revoke(person: Person) -> None:
    """No rights any more, and no Teams identity to be recognised by; the row stays for the history."""
    person.role = Role.REMOVED
    person.aad_object_id = None
    person.teams_user_id = None


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


async def _upsert_meetings(session: AsyncSession, partnership: Partnership, spec: PlanFile) -> int:
    """Meetings in the file are added; meetings set since (in Teams or the CLI) are kept. Returns how many were new."""
    have = set(await session.scalars(select(Meeting.meets_on).where(Meeting.partnership_id == partnership.id)))
    added = 0
    for day in spec.meetings:
        if day not in have:
            session.add(Meeting(partnership_id=partnership.id, meets_on=day))
            added += 1
    await session.flush()
    return added


def due_of(milestone: Milestone) -> Due:
    return Due(milestone.due_on, milestone.precision)
