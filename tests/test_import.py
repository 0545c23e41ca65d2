"""Importing the plan files into the database (SQLite and PostgreSQL), in place, without losing updates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Due, Precision, Rag
from storage.errors import PlanFileError
from storage.models import Person, SubGroup
from storage.plan_io import import_file
from storage.planfile import PlanFile
from storage.repositories import PartnershipRepository, UpdateRepository, counts, dues
from tests.conftest import london
from tests.factories import action, add_update, load, person, row_counts, subgroup


async def test_the_ncscp_plan_imports_with_its_counts(session: AsyncSession, ncscp: PlanFile) -> None:
    report = await load(session, ncscp)
    assert "NCSCP 'Business Plan 2019-22': 3 priorities, 13 objectives, 30 actions" in report.summary()
    partnership = await PartnershipRepository(session).by_short_name("ncscp")
    c = await counts(session, partnership)
    assert (c.plans, c.objectives, c.actions, c.subgroups, c.meetings) == (1, 13, 30, 12, 9)
    assert c.updates == sum(len(a.updates) for o in ncscp.objectives for a in o.actions) > 0


async def test_imported_cells_match_the_seed(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    eha = await action(session, "NCSCP", "2.1")
    qa = await subgroup(session, "Children's QA subgroup")
    assert eha.lead_subgroup_id == qa.id
    assert (
        eha.success_measure
        == "Quarterly EHA report received by Children's QA subgroup\nChildren's QA subgroup report to BMG"
    )
    assert dues(eha) == [Due.month(y, m) for y, m in [(2019, 6), (2019, 10), (2020, 2)] * 2]
    assert eha.milestones[0].label == "Quarterly EHA report received by Children's QA subgroup"
    assert eha.reporting_body == "BMG"
    assert (await action(session, "NCSCP", "2.2")).reporting_body == "OMG"

    dsl = await action(session, "NCSCP", "13.1")
    officer = await session.get_one(Person, dsl.lead_person_id)
    assert officer.job_title == "Partnerships Manager"
    assert dsl.lead_subgroup_id is None
    assert dsl.reporting_body == "NCSCP"

    cdop = await action(session, "NCSCP", "8.1")
    assert (await session.get_one(SubGroup, cdop.lead_subgroup_id)).name == "CDOP"
    twelve = await action(session, "NCSCP", "12.1")
    assert twelve.lead_text == "Learning and improvement sub group"
    assert (await session.get_one(SubGroup, twelve.lead_subgroup_id)).name == "Learning and Improvement subgroup"
    assert dues(cdop) == [Due.month(2019, 6), Due.month(2020, 2)]
    assert all(m.precision is Precision.MONTH for m in cdop.milestones)


async def test_both_plans_live_side_by_side(session: AsyncSession, ncscp: PlanFile, nscp: PlanFile) -> None:
    await load(session, ncscp)
    await load(session, nscp)
    repo = PartnershipRepository(session)
    assert [p.short_name for p in await repo.all()] == ["NCSCP", "NSCP"]
    found = await repo.by_tenant(nscp.partnership.tenant_id or "")
    assert found is not None
    assert found.short_name == "NSCP"
    c = await counts(session, found)
    assert (c.objectives, c.actions) == (11, 26)


async def test_reimport_updates_in_place_and_keeps_every_update(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    target = await action(session, "NCSCP", "4.2")
    chair = await person(session, ncscp.people[3].email or "")
    await add_update(session, target, Rag.RED, "Report not received", london(2019, 10, 2, 9), chair)
    before = await UpdateRepository(session).history(target.id)

    data = ncscp.model_dump(mode="json")
    objective4 = next(o for o in data["objectives"] if o["number"] == 4)
    objective4["actions"][1]["description"] = "Scrutinise local practice (reworded)"
    objective4["actions"] = objective4["actions"][:2]  # 4.3 leaves the plan
    report = await load(session, PlanFile.model_validate(data))

    assert report.updates_added == 0, "the file's own history is not added twice"
    assert report.archived == ["4.3"]
    again = await action(session, "NCSCP", "4.2")
    assert again.id == target.id
    assert again.description == "Scrutinise local practice (reworded)"
    after = await UpdateRepository(session).history(target.id)
    assert [u.id for u in after] == [u.id for u in before]
    assert after[-1].comment == "Report not received"
    gone = await action(session, "NCSCP", "4.3")
    assert gone.archived
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    assert (await counts(session, partnership)).actions == 29


async def attempt_import(session: AsyncSession, path: Path, **kwargs: Any) -> str:
    """Run an import the way the CLI does (all or nothing) and return its error message."""
    with pytest.raises(PlanFileError) as caught:
        async with session.begin_nested():
            await import_file(session, path, now=london(2019, 10, 1), **kwargs)
    return str(caught.value)


async def test_a_bad_plan_file_writes_nothing(session: AsyncSession, ncscp: PlanFile, tmp_path: Path) -> None:
    await load(session, ncscp)
    before = await row_counts(session)
    data = ncscp.model_dump(mode="json")
    data["objectives"][3]["actions"][0]["measures"][0]["due"] = ["2019-15"]
    path = tmp_path / "ncscp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    message = await attempt_import(session, path)
    assert "due[0]: '2019-15' is not a date" in message
    assert await row_counts(session) == before


async def test_a_tenant_belongs_to_one_partnership(
    session: AsyncSession, ncscp: PlanFile, nscp: PlanFile, tmp_path: Path
) -> None:
    await load(session, ncscp)
    before = await row_counts(session)
    data = nscp.model_dump(mode="json")
    data["partnership"]["tenant_id"] = ncscp.partnership.tenant_id
    path = tmp_path / "nscp.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    message = await attempt_import(session, path)
    assert f"tenant {ncscp.partnership.tenant_id} already belongs to NCSCP" in message
    assert await row_counts(session) == before


async def test_a_plan_file_for_another_partnership_is_refused(session: AsyncSession, ncscp_file: Path) -> None:
    message = await attempt_import(session, ncscp_file, partnership="NSCP")
    assert "the file is NCSCP's plan, not NSCP's" in message
    assert (await row_counts(session))["partnership"] == 0
