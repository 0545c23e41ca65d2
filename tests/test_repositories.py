"""Repositories on SQLite and PostgreSQL: who leads what, what falls due, history, and its guarantees."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Rag
from storage.models import AppendOnlyError, Source, Update
from storage.planfile import PlanFile
from storage.repositories import MeetingRepository, PeopleRepository, PlanRepository, UpdateRepository, current_of
from tests.conftest import london
from tests.factories import action, add_update, load, person, plan_of


@pytest.fixture
async def loaded(session: AsyncSession, ncscp: PlanFile) -> AsyncSession:
    await load(session, ncscp)
    return session


async def test_actions_a_person_leads_directly_and_through_sub_groups(loaded: AsyncSession, ncscp: PlanFile) -> None:
    _, plan = await plan_of(loaded, "NCSCP")
    plans = PlanRepository(loaded)
    coordinator = await person(loaded, "helen.marsh@ncscp.example.org")
    hers = [a.ref for a in await plans.actions_led_by(plan, coordinator)]
    assert {"13.2", "13.4"} <= set(hers), "led by her job title"
    assert {"2.1", "11.3"} <= set(hers), "led by the QA subgroup she belongs to"
    assert "8.1" not in hers, "CDOP's, not hers"
    assert "13.1" not in hers, "the Partnerships Manager's"
    assert hers == sorted(hers, key=lambda ref: tuple(map(int, ref.split(".")))), "in plan order"

    qa = next(g for g in ncscp.subgroups if g.name == "Children's QA subgroup")
    qa_refs = [a.ref for o in ncscp.objectives for a in o.actions if a.lead in {"Children's QA subgroup"}]
    for email in [qa.chair, *qa.members]:
        assert email is not None
        member = await person(loaded, email)
        refs = [a.ref for a in await plans.actions_led_by(plan, member)]
        assert set(qa_refs) <= set(refs), email

    viewer = next(p for p in ncscp.people if p.role == "viewer")
    assert await plans.actions_led_by(plan, await person(loaded, viewer.email or "")) == []


async def test_actions_due_in_a_window(loaded: AsyncSession) -> None:
    _, plan = await plan_of(loaded, "NCSCP")
    due = await PlanRepository(loaded).actions_due_between(plan, date(2019, 7, 1), date(2019, 7, 31))
    assert [a.ref for a in due] == ["13.5"]
    april = await PlanRepository(loaded).actions_due_between(plan, date(2020, 4, 1), date(2020, 4, 30))
    assert [a.ref for a in april] == ["5.2"]


async def test_history_and_current_status(loaded: AsyncSession) -> None:
    target = await action(loaded, "NCSCP", "6.1")
    updates = UpdateRepository(loaded)
    before = len(await updates.history(target.id))
    first = await add_update(loaded, target, Rag.GREEN, "Panel meeting monthly", london(2019, 10, 20, 9))
    second = await add_update(loaded, target, Rag.RED, "Panel paused", london(2019, 10, 21, 9))
    assert (await updates.current(target.id)) == second
    await updates.append(
        Update(
            action_id=target.id,
            rag=None,
            comment="",
            created_at=london(2019, 10, 21, 9, 5),
            source=Source.CHAT,
            withdraws_id=second.id,
        )
    )
    history = await updates.history(target.id)
    assert len(history) == before + 3
    assert current_of(history) == first


async def test_updates_cannot_be_edited_or_deleted(loaded: AsyncSession) -> None:
    target = await action(loaded, "NCSCP", "6.1")
    entry = await add_update(loaded, target, Rag.GREEN, "On track", london(2019, 10, 20, 9))
    entry.comment = "Rewritten"
    with pytest.raises(AppendOnlyError, match="never edited or deleted"):
        await loaded.flush()
    await loaded.rollback()


async def test_times_come_back_timezone_aware_and_equal(loaded: AsyncSession) -> None:
    target = await action(loaded, "NCSCP", "6.1")
    at = london(2019, 7, 1, 0, 30)  # 30 June 23:30 UTC
    entry = await add_update(loaded, target, Rag.AMBER, "Late", at)
    loaded.expunge_all()
    stored = (await UpdateRepository(loaded).history(target.id))[-1]
    assert stored.id == entry.id
    assert stored.created_at == at
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.astimezone(UTC) == datetime(2019, 6, 30, 23, 30, tzinfo=UTC)


async def test_naive_times_are_refused(loaded: AsyncSession) -> None:
    target = await action(loaded, "NCSCP", "6.1")
    with pytest.raises(Exception, match="naive datetime"):
        await add_update(loaded, target, Rag.AMBER, "x", datetime(2019, 7, 1))  # noqa: DTZ001
    await loaded.rollback()


async def test_meetings_and_people_of_a_partnership(loaded: AsyncSession, ncscp: PlanFile) -> None:
    partnership, _ = await plan_of(loaded, "NCSCP")
    assert await MeetingRepository(loaded).dates(partnership) == sorted(ncscp.meetings)
    people = PeopleRepository(loaded)
    assert len(await people.people(partnership)) == len(ncscp.people)
    groups = await people.subgroups(partnership)
    assert {g.name for g in groups} == {g.name for g in ncscp.subgroups}
    qa = next(g for g in groups if g.name == "Children's QA subgroup")
    assert "QA subgroup" in qa.aliases
