"""Importing a plan from a file (YAML, XLSX, CSV) and exporting it, as the CLI and the bot ask for it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import checking_many, kinds, own_patterns
from storage.audit import Actor, Operator
from storage.errors import PlanFileError
from storage.export import plan_table
from storage.importer import (
    ImportReport,
    add_progress,
    apply_objectives,
    import_plan_file,
    record_import,
    upsert_plan,
)
from storage.models import Partnership, Plan
from storage.planfile import load_plan_file
from storage.repositories import PartnershipRepository, PlanRepository, UpdateRepository
from storage.spreadsheet import read_plan_table, write_table

PLAN_FILE_SUFFIXES = (".yaml", ".yml")
TABLE_SUFFIXES = (".xlsx", ".csv")


def check_notes(notes: Iterable[tuple[str, str]], source: Path, own: Sequence[re.Pattern[str]] = ()) -> None:
    """Refuse notes that seem to identify a child or family, naming where each is; nothing is written."""
    with checking_many():
        found = [(place, kinds(note, own)) for place, note in notes]
    flagged = [f"  - {place}: seems to contain {' and '.join(named)}" for place, named in found if named]
    if flagged:
        raise PlanFileError(
            "\n".join(
                [
                    f"{source}: {len(flagged)} progress note(s) seem to identify a child or family:",
                    *flagged,
                    "Remove those details and import again, or import with --allow-identifying-details to keep "
                    "them (they are still removed from channels and files unless the business unit clears them).",
                ]
            )
        )


async def import_file(
    session: AsyncSession,
    path: Path,
    *,
    now: datetime,
    partnership: str | None = None,
    plan_title: str | None = None,
    allow_identifying: bool = False,
    by: Actor | Operator | None = None,
) -> ImportReport:
    """Import `path` into the database in the caller's transaction; raises PlanFileError and writes nothing.

    Progress notes that seem to identify a child or family are refused, each named, unless
    `allow_identifying` says the business unit has looked and means to keep them. Recorded in the
    audit log as done `by` the operator, with what changed."""
    suffix = path.suffix.lower()
    if suffix in PLAN_FILE_SUFFIXES:
        spec = load_plan_file(path)
        if partnership and partnership.lower() != spec.partnership.short_name.lower():
            raise PlanFileError(f"{path}: the file is {spec.partnership.short_name}'s plan, not {partnership}'s")
        if not allow_identifying:
            check_notes(
                (
                    (f"action {a.ref}, update of {u.at:%d %B %Y}", u.comment)
                    for o in spec.objectives
                    for a in o.actions
                    for u in a.updates
                ),
                path,
                own_patterns(spec.partnership.privacy.case_id_patterns),
            )
        return await import_plan_file(session, spec, path.name, by=by, at=now)
    if suffix in TABLE_SUFFIXES:
        if not partnership:
            raise PlanFileError(f"{path}: say which partnership the table belongs to (--partnership SHORT)")
        sheet = read_plan_table(path)
        owner = await _table_owner(session, path, partnership)
        if not allow_identifying:
            comments = ((f"action {ref}, Comment on Progress", p.comment) for ref, p in sheet.progress.items())
            check_notes(comments, path, own_patterns(owner.privacy_patterns or []))
        plan = await _table_plan(session, owner, plan_title)
        report = ImportReport(partnership=owner.short_name, plan=plan.title)
        actions = await apply_objectives(session, owner, plan, sheet.objectives, {}, report, sheet.locate)
        updates = UpdateRepository(session)
        for ref, progress in sheet.progress.items():
            report.updates_added += await add_progress(updates, actions[ref], progress, now, f"import of {path.name}")
        await record_import(session, owner, report, path.name, by, now)
        return report
    raise PlanFileError(f"{path}: not a plan file this can read; use .yaml, .xlsx or .csv")


async def _table_owner(session: AsyncSession, path: Path, short_name: str) -> Partnership:
    """The partnership a table is imported into. A table alone cannot make one: it carries only the
    plan's rows, not the people, sub-groups, meetings or history, so the business unit is told where
    those come from."""
    partnerships = PartnershipRepository(session)
    found = await partnerships.find(short_name)
    if found is None:
        known = ", ".join(p.short_name for p in await partnerships.all()) or "none"
        raise PlanFileError(
            f"{path}: this database has no partnership called '{short_name}' (it has: {known}), and a table "
            "carries only the plan's rows, not its people, sub-groups, meetings or history. Restore a backup "
            f"first (planbot restore FILE) or import {short_name}'s plan file (planbot import PLAN.yaml), "
            "then import the table."
        )
    return found


async def _table_plan(session: AsyncSession, partnership: Partnership, title: str | None) -> Plan:
    if title:
        return await upsert_plan(session, partnership, title)
    return await PlanRepository(session).current(partnership)


async def export_file(session: AsyncSession, partnership: str, out: Path, plan_title: str | None = None) -> int:
    """Write the plan table to `out` (.xlsx or .csv); returns the number of actions written."""
    owner = await PartnershipRepository(session).by_short_name(partnership)
    plans = PlanRepository(session)
    plan = await plans.by_title(owner, plan_title) if plan_title else await plans.current(owner)
    rows = await plan_table(session, plan)
    write_table(rows, out, plan.title)
    return sum(1 for row in rows if row.cells[2])
