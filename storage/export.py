"""The plan as a table for the BMG: every action with its current RAG and latest comment."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Due
from storage.models import Action, Milestone, Objective, Plan, Update
from storage.repositories import PlanRepository, UpdateRepository, current_of
from storage.spreadsheet import TableRow, dues_label


async def plan_table(session: AsyncSession, plan: Plan) -> list[TableRow]:
    plans = PlanRepository(session)
    objectives = await plans.objectives(plan)
    actions = await plans.actions(plan)
    histories = await UpdateRepository(session).histories([a.id for a in actions])
    return table_rows(objectives, actions, histories)


def table_rows(
    objectives: Sequence[Objective], actions: Sequence[Action], histories: dict[int, list[Update]]
) -> list[TableRow]:
    """Rows in the plan's own layout: No. and the objective on its first row, an action's extra
    success measures on rows of their own beneath it, progress on the action's first row."""
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
                            status.comment if first and status else "",
                            status.rag.label if first and status and status.rag else "",
                        ),
                        rag=status.rag if first and status else None,
                    )
                )
    return rows


def _measures(action: Action) -> list[tuple[str, list[Milestone]]]:
    """Each success-measure line with the milestones that belong to it, in order."""
    lines = dict.fromkeys(line for line in action.success_measure.split("\n") if line)
    grouped = [(line, [m for m in action.milestones if m.label == line]) for line in lines]
    leftovers = [m for m in action.milestones if m.label not in lines]
    if leftovers:
        grouped.append(("", leftovers))
    return grouped
