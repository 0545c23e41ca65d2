"""The demo: both seed plans, optionally moved in time so that a BMG cycle is live today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import Actor
from storage.importer import ImportReport, import_plan_file
from storage.planfile import ActionSpec, MeasureSpec, ObjectiveSpec, PlanFile, load_plan_file
from storage.repositories import PartnershipRepository

DAYS_BEFORE_NEXT_BMG = 7


def demo_files() -> list[Path]:
    folder = resources.files("storage") / "demo"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


def rebase_anchor(spec: PlanFile) -> date | None:
    """The meeting the demo treats as 'next': the first one after every recorded update."""
    latest = max(
        (u.at.date() for o in spec.objectives for a in o.actions for u in a.updates),
        default=None,
    )
    upcoming = [m for m in sorted(spec.meetings) if latest is None or m > latest]
    return upcoming[0] if upcoming else None


def rebase(spec: PlanFile, today: date) -> PlanFile:
    """Move the plan's calendar so its next BMG falls a week from today, as in a live cycle: a few
    actions overdue, a few reports missed, the reports for the coming BMG due soon, most on track.

    Dates (meetings, updates, day milestones) move by one number of days. Month milestones move by
    whole months, so that the month before the anchor meeting, whose reports that meeting waits for,
    becomes the current month: those reports fall due by the month's end, soon, and not before today.
    Moving them by the days instead and taking the month they land in would, early in a month, put
    them at the end of the month just past: missed, and their actions overdue, a week before the
    meeting that is to hear them.
    """
    anchor = rebase_anchor(spec)
    if anchor is None:
        return spec
    next_bmg = today + timedelta(days=DAYS_BEFORE_NEXT_BMG)
    days = (next_bmg - anchor).days
    months = (today.year - anchor.year) * 12 + today.month - anchor.month + 1
    shift = timedelta(days=days)

    def action(a: ActionSpec) -> ActionSpec:
        return a.model_copy(
            update={
                "measures": [
                    MeasureSpec(text=m.text, due=[d.shifted(days, months) for d in m.due]) for m in a.measures
                ],
                "updates": [u.model_copy(update={"at": u.at + shift}) for u in a.updates],
            }
        )

    def objective(o: ObjectiveSpec) -> ObjectiveSpec:
        return o.model_copy(update={"actions": [action(a) for a in o.actions]})

    plan = spec.plan.model_copy(
        update={
            "starts": spec.plan.starts + shift if spec.plan.starts else None,
            "ends": spec.plan.ends + shift if spec.plan.ends else None,
        }
    )
    return spec.model_copy(
        update={
            "plan": plan,
            "objectives": [objective(o) for o in spec.objectives],
            "meetings": [m + shift for m in spec.meetings],
        }
    )


async def load_demo(
    session: AsyncSession, today: date | None, by: Actor | None = None, at: datetime | None = None
) -> list[ImportReport | str]:
    """Load each demo plan not already present; `today` set means rebase to it. Returns what was done.
    Each import is recorded in the audit log as done `by` the operator at `at`."""
    done: list[ImportReport | str] = []
    partnerships = PartnershipRepository(session)
    for path in demo_files():
        spec = load_plan_file(path)
        if await partnerships.find(spec.partnership.short_name) is not None:
            done.append(f"{spec.partnership.short_name} is already loaded; left as it is")
            continue
        if today is not None:
            spec = rebase(spec, today)
        done.append(await import_plan_file(session, spec, path.name, by=by, at=at))
    return done
