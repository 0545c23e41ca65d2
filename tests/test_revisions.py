"""Revised dates: proposed in an update, accepted by the business unit, then the milestone they replace."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cards
from bot.demo import load_demo
from bot.revisions import accept_revision
from bot.rules import Due, Precision, Rag
from bot.views import Snapshot, load_snapshot
from storage.models import Accepted, AppendOnlyError, MilestoneRevision, Source, Update
from storage.repositories import PartnershipRepository, UpdateRepository
from tests.conftest import london
from tests.factories import action, person
from tests.teams import card_texts

NOW = london(2026, 11, 23, 10)
PRIYA = "priya.shah@ncscp.example.org"  # the business unit
FIONA = "fiona.mcleod@ncscp.example.org"  # chair of the Children's QA subgroup, which leads 2.2


async def propose(session: AsyncSession, ref: str, email: str, revised: Due, at: datetime) -> Update:
    author = await person(session, email)
    return await UpdateRepository(session).append(
        Update(
            action_id=(await action(session, "NCSCP", ref)).id,
            rag=Rag.AMBER,
            comment="Slipping: the analyst starts in December, so the report moves.",
            created_at=at,
            source=Source.CHAT,
            author_id=author.id,
            author_name=author.name,
            revised_due_on=revised.on,
            revised_precision=revised.precision,
        )
    )


async def snapshot(session: AsyncSession, now: datetime = NOW) -> Snapshot:
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    return await load_snapshot(session, partnership, now)


async def accept(session: AsyncSession, email: str, ref: str, now: datetime = NOW) -> str:
    return await accept_revision(
        session, await snapshot(session, now), await person(session, email), ref, now, Accepted.TEAMS
    )


@pytest.fixture
async def demo(session: AsyncSession) -> AsyncSession:
    await load_demo(session, date(2026, 11, 23))
    return session


async def test_an_accepted_date_replaces_the_milestone_the_proposal_revised(demo: AsyncSession) -> None:
    # 2.2's milestones (moved by the demo): July 2026, November 2026, March 2027. On 20 November the next
    # one pending is November, so a proposal made then revises November.
    proposal = await propose(demo, "2.2", FIONA, Due.month(2027, 1), london(2026, 11, 20, 9))
    before = (await snapshot(demo)).action("2.2")
    assert before is not None and before.proposed == Due.month(2027, 1)
    assert "Proposed new date: January 2027 (for the BMG to agree)" in card_texts(cards.action_detail(before))

    said = await accept(demo, PRIYA, "2.2")
    assert said.startswith("Accepted: 2.2's November 2026 milestone is now January 2027.")

    after = (await snapshot(demo)).action("2.2")
    assert after is not None
    assert after.dues == (Due.month(2026, 7), Due.month(2027, 1), Due.month(2027, 3))
    assert after.proposed is None, "accepted: no longer pending"
    shown = card_texts(cards.action_detail(after))
    assert (
        "Milestones: July 2026, January 2027 (revised from November 2026, agreed 23 November 2026), March 2027" in shown
    )
    assert not any(t.startswith("Proposed new date") for t in shown)
    row = await demo.scalar(select(MilestoneRevision).where(MilestoneRevision.proposal_id == proposal.id))
    assert row is not None
    assert (row.replaces_on, row.due_on, row.precision) == (date(2026, 11, 30), date(2027, 1, 31), Precision.MONTH)
    assert (row.accepted_by_name, row.source, row.accepted_at) == ("Priya Shah", Accepted.TEAMS, NOW)


async def test_accepting_twice_records_it_once_and_says_so(demo: AsyncSession) -> None:
    proposal = await propose(demo, "2.2", FIONA, Due.month(2027, 1), london(2026, 11, 20, 9))
    await accept(demo, PRIYA, "2.2")
    again = await accept(demo, PRIYA, "2.2", london(2026, 11, 24, 9))
    assert again == "2.2's proposed date January 2027 was already accepted, by Priya Shah on 23 November 2026; " + (
        "nothing changed."
    )
    count = await demo.scalar(
        select(func.count()).select_from(MilestoneRevision).where(MilestoneRevision.proposal_id == proposal.id)
    )
    assert count == 1


async def test_a_newer_proposal_shows_again(demo: AsyncSession) -> None:
    await propose(demo, "2.2", FIONA, Due.month(2027, 1), london(2026, 11, 20, 9))
    await accept(demo, PRIYA, "2.2")
    await propose(demo, "2.2", FIONA, Due(date(2027, 2, 15), Precision.DAY), london(2026, 11, 23, 9, 30))
    shown = (await snapshot(demo)).action("2.2")
    assert shown is not None and shown.proposed == Due(date(2027, 2, 15), Precision.DAY)
    assert Due.month(2027, 1) in shown.dues, "the accepted date stands until the newer one is accepted"


async def test_an_accepted_date_moves_overdue_and_missed_reports(demo: AsyncSession) -> None:
    # 13.5's only milestone (July 2019, now August 2026) has passed and it is Amber: overdue. Every
    # milestone had passed when the proposal was made, so it revises the last one.
    late = (await snapshot(demo)).action("13.5")
    assert late is not None and late.overdue_since == Due.month(2026, 8)
    await propose(demo, "13.5", PRIYA, Due.month(2027, 1), london(2026, 11, 22, 12))
    await accept(demo, PRIYA, "13.5")
    moved = (await snapshot(demo)).action("13.5")
    assert moved is not None
    assert (moved.overdue, moved.overdue_since, moved.missed) == (False, None, ())
    assert moved.dues == (Due.month(2027, 1),)
    assert "Overdue" not in cards.flags(moved)


async def test_only_the_business_unit_accepts_and_only_a_pending_proposal(demo: AsyncSession) -> None:
    await propose(demo, "2.2", FIONA, Due.month(2027, 1), london(2026, 11, 20, 9))
    refused = await accept(demo, FIONA, "2.2")
    assert refused == "Only the business unit accepts revised dates; please ask Gareth Lloyd or Priya Shah."
    assert (await snapshot(demo)).action("2.2").proposed == Due.month(2027, 1)  # type: ignore[union-attr]
    assert await accept(demo, PRIYA, "8.1") == (
        "There is no proposed date for 8.1 waiting to be accepted; its milestones stand as they are."
    )
    assert await accept(demo, PRIYA, "42.7") == (
        "I can't find action 42.7 in NCSCP's Business Plan 2019-22. References look like 4.2; try 'my actions'."
    )
    assert await demo.scalar(select(func.count()).select_from(MilestoneRevision)) == 0


async def test_an_accepted_revision_is_never_edited(demo: AsyncSession) -> None:
    await propose(demo, "2.2", FIONA, Due.month(2027, 1), london(2026, 11, 20, 9))
    await accept(demo, PRIYA, "2.2")
    row = await demo.scalar(select(MilestoneRevision))
    assert row is not None
    row.due_on = date(2030, 1, 31)
    with pytest.raises(AppendOnlyError):
        await demo.flush()
