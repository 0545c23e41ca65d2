"""Handlers over a snapshot built by hand: missed reports, accepting a date, due soon, and what they say."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from bot import cards, queries, summaries
from bot.cards import Card
from bot.language import Intent, IntentName
from bot.queries import Ask, Asker, Listing, Reply
from bot.rules import LONDON, Due, Precision, Rag, Revision, effective_milestones
from bot.views import ActionView, Snapshot, SubgroupView
from tests.conftest import london
from tests.teams import card_texts
from tests.test_cards import action

NOW = london(2027, 4, 22, 10)
PRIYA = Asker(1, "Priya", is_admin=True)
FIONA = Asker(2, "Fiona", is_admin=False)


def late(view: ActionView) -> ActionView:
    """Overdue since March 2027 (three weeks before NOW), with June and October 2026 reports missing."""
    return replace(
        view,
        overdue=True,
        overdue_since=Due.month(2027, 3),
        overdue_for=timedelta(days=21, hours=10),
        missed=(Due.month(2026, 6), Due.month(2026, 10)),
    )


def snapshot(*actions: ActionView, meetings: tuple[date, ...] = ()) -> Snapshot:
    qa = SubgroupView(1, "Children's QA subgroup", ("QA",), chair_id=2, member_ids=frozenset())
    return Snapshot("NCSCP", "Business Plan 2019-22", NOW, LONDON, list(actions), list(meetings), [qa], {2: "Fiona"})


@dataclass
class Desk:
    accepted: list[str] = field(default_factory=list)

    async def accept_date(self, ref: str) -> Reply:
        self.accepted.append(ref)
        return Reply(f"accepted {ref}")


async def ask(name: IntentName, snap: Snapshot, asker: Asker = PRIYA, desk: Desk | None = None, **kw: str) -> Reply:
    reply = await queries.answer(Ask(Intent(name, **kw), snap, asker, desk=desk))  # type: ignore[arg-type]
    assert reply is not None
    return reply


async def test_missed_reports_lists_the_actions_and_which_reports() -> None:
    snap = snapshot(late(action("4.2")), action("4.3"))
    reply = await ask(IntentName.MISSED_REPORTS, snap)
    assert reply.text == (
        "Missed reports for the whole of Business Plan 2019-22 - Business Plan 2019-22 (1): "
        "4.2 Amber (overdue since March 2027, 3 weeks; June 2026 and October 2026 reports missing)"
    )
    assert reply.card is not None
    assert "Attention: Overdue since March 2027, 3 weeks · June 2026 and October 2026 reports missing" in (
        _texts(reply.card)
    )
    none = await ask(IntentName.MISSED_REPORTS, snapshot(action("4.3")))
    assert none.text == "Nothing with a missed report for the whole of Business Plan 2019-22."


async def test_only_the_business_unit_accepts_a_date() -> None:
    desk = Desk()
    refused = await ask(IntentName.ACCEPT_DATE, snapshot(action()), FIONA, desk, ref="4.2")
    assert refused.text.startswith("Only the business unit accepts revised dates")
    which = await ask(IntentName.ACCEPT_DATE, snapshot(action()), PRIYA, desk)
    assert which.text == "Which action's proposed date? Say e.g. accept the new date for 4.2."
    done = await ask(IntentName.ACCEPT_DATE, snapshot(action()), PRIYA, desk, ref="4.2")
    assert (done.text, desk.accepted) == ("accepted 4.2", ["4.2"])


async def test_due_soon_looks_30_days_ahead_when_the_bmg_is_sooner() -> None:
    soon = replace(action("4.2"), next_due=Due.month(2027, 5))  # 31 May: 39 days after 22 April
    in_window = replace(action("4.3"), next_due=Due(date(2027, 5, 15), Precision.DAY))
    snap = snapshot(soon, in_window, meetings=(date(2027, 4, 28),))
    reply = await ask(IntentName.DUE_SOON, snap)
    assert reply.text.startswith("Due in the next 30 days for the whole of Business Plan 2019-22")
    assert reply.listing is not None and reply.listing.refs == ("4.3",)
    later_bmg = snapshot(soon, in_window, meetings=(date(2027, 6, 9),))
    reply = await ask(IntentName.DUE_SOON, later_bmg)
    assert reply.text.startswith("Due before the next BMG (Wednesday 9 June 2027)")
    assert reply.listing is not None and reply.listing.refs == ("4.2", "4.3")


def test_a_sub_group_summary_and_the_exception_report_name_the_missed_reports() -> None:
    snap = snapshot(late(action("4.2")), replace(action("4.3"), missed=(Due.month(2026, 6),)))
    group = snap.subgroups[0]
    summary = summaries.summary_for(snap, group, date(2027, 4, 28))
    text = summaries.summary_text(summary, {})
    assert "Overdue: 4.2 since March 2027, 3 weeks" in text
    assert "Missed reports: 4.2: June 2026 and October 2026 reports missing; 4.3: June 2026 report missing" in text
    assert "Missed reports: 4.2: June 2026 and October 2026 reports missing; 4.3: June 2026 report missing" in (
        _texts(summaries.summary_card(summary, "Fiona"))
    )
    report = summaries.exceptions_text(snap, [])
    assert "Overdue: 4.2 (since March 2027, 3 weeks)" in report
    assert "Missed reports: 4.2: June 2026 and October 2026 reports missing; 4.3: June 2026 report missing" in report


def test_milestones_show_in_date_order_with_a_revision_s_origin() -> None:
    moved = Revision(date(2026, 10, 31), Due.month(2027, 3), london(2026, 12, 3, 15))
    milestones = effective_milestones([Due.month(2026, 10), Due.month(2026, 6)], [moved])
    view = replace(action(), dues=tuple(m.due for m in milestones), milestones=milestones)
    assert "Milestones: June 2026, March 2027 (revised from October 2026, agreed 3 December 2026)" in _texts(
        cards.action_detail(view)
    )


def _texts(card: Card) -> list[str]:
    return card_texts(card)


def test_who_leads_what_follows_the_actions_of_each_copy_of_a_snapshot() -> None:
    """A turn's copy of the kept plan for its own time answers as the plan does; a copy with other
    actions (the plan as an update left it, or as a channel may show it) answers for those."""
    qa_lead = action("4.2")
    fionas = replace(action("5.1"), id=2, lead="Fiona", lead_subgroup_id=None, lead_person_id=2)
    someone_elses = replace(action("6.1"), id=3, lead="Sam", lead_subgroup_id=None, lead_person_id=9)
    snap = snapshot(qa_lead, fionas, someone_elses)
    # Fiona chairs the QA sub-group: its actions and her own, in the plan's order.
    assert [a.ref for a in snap.led_by(2)] == ["4.2", "5.1"]
    later = replace(snap, now=NOW + timedelta(hours=1))
    assert [a.ref for a in later.led_by(2)] == ["4.2", "5.1"]
    assert later.action("6.1") is someone_elses and later.may_update(2, fionas)
    assert not later.may_update(2, someone_elses)

    handed_over = replace(someone_elses, lead="Fiona", lead_person_id=2)
    moved = replace(snap, actions=[qa_lead, fionas, handed_over])
    assert [a.ref for a in moved.led_by(2)] == ["4.2", "5.1", "6.1"]
    assert moved.action("6.1") is handed_over and moved.may_update(2, handed_over)
    assert [a.ref for a in snap.led_by(2)] == ["4.2", "5.1"]  # the plan it was copied from is as it was
    assert [a.ref for a in later.led_by(2)] == ["4.2", "5.1"]

    # The plan as an update leaves it (an action shown anew) and as a channel may show it: the same look-ups.
    # An update says which places it changed, and only those are compared.
    for shown_anew, changed in (
        ([qa_lead, replace(fionas, rag=Rag.RED), someone_elses], None),
        ([qa_lead, fionas, handed_over], None),
        ([qa_lead, replace(fionas, rag=Rag.RED), someone_elses], [1]),
        ([qa_lead, fionas, handed_over], [2]),
    ):
        assert snap.lookup is not None
        after = replace(snap, actions=shown_anew, lookup=snap.lookup.moved_to(shown_anew, changed))
        assert after.led_by(2) == [a for a in shown_anew if a.lead_person_id == 2 or a.lead_subgroup_id == 1]
        assert [after.action(ref) for ref in ("4.2", "5.1", "6.1")] == shown_anew
    assert [a.ref for a in snap.led_by(2)] == ["4.2", "5.1"]

    sam_joins = [replace(snap.subgroups[0], member_ids=frozenset({9}))]
    regrouped = replace(snap, subgroups=sam_joins)
    assert [a.ref for a in regrouped.led_by(9)] == ["4.2", "6.1"]
    assert [g.name for g in regrouped.groups_of(9)] == ["Children's QA subgroup"] and snap.groups_of(9) == []
    assert regrouped.subgroup("qa") is sam_joins[0] and snap.subgroup("QA") is snap.subgroups[0]


def test_a_list_kept_for_more_comes_back_as_it_was_kept_whichever_way() -> None:
    """ "more" goes on with a list kept by this version (its references as one text) and with one kept
    before it (a list of references), so a conversation half-way through a list outlives an upgrade."""
    listing = Listing("Overdue actions for NCSCP", "the whole plan", ("1.1", "4.2", "12.10"), 8)
    assert Listing.from_stored(listing.stored()) == listing
    assert Listing.from_stored(replace(listing, refs=()).stored()).refs == ()
    as_kept_before = {"title": listing.title, "subtitle": listing.subtitle, "refs": ["1.1", "4.2", "12.10"], "shown": 8}
    assert Listing.from_stored(as_kept_before) == listing
