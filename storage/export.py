"""The plan as a table for the BMG: every action with its current RAG and latest comment.

A note leaves the bot with every identifying detail removed (`bot.privacy.redact`) unless the
business unit has cleared it (`storage.review.cleared`): in the XLSX and CSV tables and the paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import checking_many, redact
from bot.rules import Due
from storage.models import Action, Milestone, Objective, Plan, Update
from storage.repositories import PlanRepository, UpdateRepository, current_of
from storage.review import case_patterns, cleared
from storage.spreadsheet import TableRow, dues_label


async def plan_table(session: AsyncSession, plan: Plan) -> list[TableRow]:
    plans = PlanRepository(session)
    objectives = await plans.objectives(plan)
    actions = await plans.actions(plan)
    histories = await UpdateRepository(session).histories([a.id for a in actions])
    own = await case_patterns(session, plan.partnership_id)
    return table_rows(objectives, actions, histories, await notes_as_sent(session, _currents(histories), own))


async def latest_notes(
    session: AsyncSession, action_ids: Sequence[int], own: Sequence[re.Pattern[str]] = ()
) -> dict[int, str]:
    """Each action's latest note as it may leave the bot, by action id (actions with no update are absent)."""
    histories = await UpdateRepository(session).histories(action_ids)
    notes = await notes_as_sent(session, _currents(histories), own)
    return {action_id: notes[update.id] for action_id, update in _current_by_action(histories).items()}


async def notes_as_sent(
    session: AsyncSession, updates: Iterable[Update], own: Sequence[re.Pattern[str]] = ()
) -> dict[int, str]:
    """Each update's note as it may leave the bot, by update id: as written if the business unit has
    cleared it, otherwise with every identifying detail (and the partnership's own case ids) removed."""
    wanted = list(updates)
    allowed = await cleared(session, [u.id for u in wanted])
    with checking_many():
        return {u.id: u.comment if u.id in allowed else redact(u.comment, own) for u in wanted}


def _current_by_action(histories: Mapping[int, Sequence[Update]]) -> dict[int, Update]:
    return {action_id: u for action_id, history in histories.items() if (u := current_of(history)) is not None}


def _currents(histories: Mapping[int, Sequence[Update]]) -> list[Update]:
    return list(_current_by_action(histories).values())


def table_rows(
    objectives: Sequence[Objective],
    actions: Sequence[Action],
    histories: Mapping[int, Sequence[Update]],
    notes: Mapping[int, str],
) -> list[TableRow]:
    """Rows in the plan's own layout: No. and the objective on its first row, an action's extra
    success measures on rows of their own beneath it, progress on the action's first row.
    `notes` are the notes as they may leave the bot, by update id (`notes_as_sent`)."""
    rows: list[TableRow] = []
    for objective in objectives:
        own = [a for a in actions if a.objective_id == objective.id]
        if not own:
            rows.append(TableRow((str(objective.number), objective.title, "", "", "", "", "", "")))
        for position, action in enumerate(own):
            first_of_objective = position == 0
            status = current_of(histories.get(action.id, []))
            for index, (measure, milestones) in enumerate(_measures(action) or [("", [])]):
                first = index == 0
                rows.append(
                    TableRow(
                        (
                            str(objective.number) if first and first_of_objective else "",
                            objective.title if first and first_of_objective else "",
                            action.description if first else "",
                            (action.lead_text or "") if first else "",
                            measure,
                            dues_label(Due(m.due_on, m.precision) for m in milestones),
                            _note(status, notes) if first and status else "",
                            status.rag.label if first and status and status.rag else "",
                        ),
                        rag=status.rag if first and status else None,
                    )
                )
    return rows


def _note(update: Update, notes: Mapping[int, str]) -> str:
    """The note as it may leave the bot; one not looked at is redacted."""
    return notes[update.id] if update.id in notes else redact(update.comment)


def _measures(action: Action) -> list[tuple[str, list[Milestone]]]:
    """Each success-measure line with the milestones that belong to it, in order."""
    lines = dict.fromkeys(line for line in action.success_measure.split("\n") if line)
    grouped = [(line, [m for m in action.milestones if m.label == line]) for line in lines]
    leftovers = [m for m in action.milestones if m.label not in lines]
    if leftovers:
        grouped.append(("", leftovers))
    return grouped
