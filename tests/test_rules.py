"""The plan's rules over plain values, with the partnership's clock in Europe/London."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import FixedClock
from bot.rules import (
    LONDON,
    Due,
    Precision,
    Rag,
    Revision,
    UpdateFacts,
    current_rag,
    current_update,
    due_soon_days,
    effective_milestones,
    how_long,
    in_date_order,
    is_missing_update,
    is_overdue,
    last_meeting,
    late_by,
    missed_reports,
    next_due,
    next_meeting,
    overdue_since,
    parse_due,
    parse_dues,
    revised_milestone,
)
from tests.conftest import london

JUNE_2019 = Due.month(2019, 6)


def test_a_month_milestone_falls_due_at_the_end_of_the_month() -> None:
    assert JUNE_2019.on == date(2019, 6, 30)
    assert Due.month(2020, 2).on == date(2020, 2, 29)
    assert JUNE_2019.label == "June 2019"
    assert Due(date(2019, 6, 15), Precision.DAY).label == "15 June 2019"


def test_overdue_starts_at_midnight_in_london_not_utc() -> None:
    # 30 June 2019 23:30 UTC is already 1 July 00:30 in London (BST).
    assert not is_overdue([JUNE_2019], Rag.AMBER, london(2019, 6, 30, 23, 59))
    assert is_overdue([JUNE_2019], Rag.AMBER, datetime(2019, 6, 30, 23, 30, tzinfo=UTC))
    assert not is_overdue([JUNE_2019], Rag.AMBER, datetime(2019, 6, 30, 22, 59, tzinfo=UTC))


def test_overdue_in_winter_time() -> None:
    november = Due.month(2019, 11)
    assert not is_overdue([november], Rag.GREEN, datetime(2019, 11, 30, 23, 59, tzinfo=UTC))
    assert is_overdue([november], Rag.GREEN, datetime(2019, 12, 1, 0, 0, tzinfo=UTC))


def test_only_the_last_milestone_makes_an_action_overdue() -> None:
    # June and October are reporting points; February is the deadline.
    dues = parse_dues("June 2019 Oct 2019 Feb 2020")
    assert not is_overdue(dues, Rag.GREEN, london(2019, 11, 1)), "two reporting points passed, the last has not"
    assert not is_overdue(dues, None, london(2020, 2, 29, 23, 59))
    assert is_overdue(dues, Rag.GREEN, london(2020, 3, 1))
    assert overdue_since(dues, Rag.AMBER, london(2020, 3, 1)) == Due.month(2020, 2)
    assert overdue_since(dues, Rag.BLUE, london(2020, 3, 1)) is None


def test_the_last_milestone_is_the_latest_by_date_whatever_the_order_written() -> None:
    written = [Due.month(2020, 2), Due.month(2019, 6)]
    assert not is_overdue(written, Rag.RED, london(2019, 7, 1))
    assert overdue_since(written, Rag.RED, london(2020, 3, 1)) == Due.month(2020, 2)
    assert in_date_order([*written, Due.month(2019, 6)]) == (Due.month(2019, 6), Due.month(2020, 2))


def test_how_late_in_words() -> None:
    march = Due.month(2027, 3)
    assert late_by(march, london(2027, 4, 22)) == timedelta(days=21)
    assert late_by(march, london(2027, 3, 15)) == timedelta(0), "not yet due"
    assert how_long(late_by(march, london(2027, 4, 22))) == "3 weeks"
    assert how_long(late_by(march, london(2027, 6, 1))) == "2 months"
    assert how_long(late_by(march, london(2027, 4, 1, 9))) == "1 day", "hours late still reads as a day"
    assert how_long(timedelta(days=10)) == "10 days"
    assert how_long(timedelta(days=400)) == "13 months"


def test_blue_is_never_overdue_and_no_update_can_be() -> None:
    long_after = london(2021, 1, 1)
    assert not is_overdue([JUNE_2019], Rag.BLUE, long_after)
    assert is_overdue([JUNE_2019], None, long_after)
    assert is_overdue([JUNE_2019], Rag.RED, long_after)
    assert not is_overdue([], Rag.RED, long_after)


def test_next_due_skips_milestones_that_passed() -> None:
    dues = parse_dues("June 2019 Oct 2019 Feb 2020")
    assert next_due(dues, london(2019, 7, 1)) == Due.month(2019, 10)
    assert next_due(dues, london(2020, 3, 1)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-06", Due.month(2019, 6)),
        ("June 2019", Due.month(2019, 6)),
        ("Sept 2019", Due.month(2019, 9)),
        ("2019-06-15", Due(date(2019, 6, 15), Precision.DAY)),
    ],
)
def test_parse_due(text: str, expected: Due) -> None:
    assert parse_due(text) == expected


def test_a_when_cell_with_several_milestones() -> None:
    assert parse_dues("June 2019  Oct 2019\nFeb 2020") == [Due.month(2019, 6), Due.month(2019, 10), Due.month(2020, 2)]
    assert parse_dues("October 2019") == [Due.month(2019, 10)]


@pytest.mark.parametrize("text", ["2019-13", "Junee 2019", "soon", "June 2019 and then some"])
def test_dates_that_cannot_be_read_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a (date|month)|could not read"):
        parse_due(text)


@pytest.mark.parametrize(
    ("word", "rag"),
    [("Red", Rag.RED), ("A", Rag.AMBER), (" green ", Rag.GREEN), ("Blue", Rag.BLUE), ("Complete", Rag.BLUE)],
)
def test_rag_words(word: str, rag: Rag) -> None:
    assert Rag.parse(word) is rag


def test_an_unknown_rag_word_says_which_are_known() -> None:
    with pytest.raises(ValueError, match="'Purple' is not a RAG rating; use one of Red, Amber, Green, Blue"):
        Rag.parse("Purple")


def update(id: int, at: datetime, rag: Rag | None, withdraws: int | None = None) -> UpdateFacts:
    return UpdateFacts(id=id, at=at, rag=rag, withdraws=withdraws)


def test_current_status_is_the_latest_live_update() -> None:
    history = [update(1, london(2019, 6, 1), Rag.GREEN), update(2, london(2019, 9, 1), Rag.RED)]
    assert current_rag(history) is Rag.RED
    withdrawn = [*history, update(3, london(2019, 9, 2), None, withdraws=2)]
    assert current_rag(withdrawn) is Rag.GREEN
    assert current_update([]) is None


def test_updates_at_the_same_instant_are_ordered_by_arrival() -> None:
    same = london(2019, 6, 1, 9)
    assert current_rag([update(7, same, Rag.AMBER), update(8, same, Rag.GREEN)]) is Rag.GREEN


MEETINGS = [date(2019, 7, 10), date(2019, 11, 13)]


def test_last_and_next_meeting() -> None:
    assert last_meeting(MEETINGS, london(2019, 7, 10, 18)) is None
    assert next_meeting(MEETINGS, london(2019, 7, 10, 18)) == date(2019, 7, 10)
    assert last_meeting(MEETINGS, london(2019, 7, 11, 0, 1)) == date(2019, 7, 10)
    assert next_meeting(MEETINGS, london(2019, 7, 11)) == date(2019, 11, 13)
    assert next_meeting(MEETINGS, london(2020, 1, 1)) is None


def test_missing_update_since_the_last_bmg() -> None:
    now = london(2019, 10, 1)
    before = [update(1, london(2019, 7, 9, 16), Rag.AMBER)]
    on_the_day = [update(1, london(2019, 7, 10, 15), Rag.AMBER)]
    after = [update(1, london(2019, 7, 11, 9), Rag.AMBER)]
    assert is_missing_update(before, MEETINGS, now)
    assert is_missing_update(on_the_day, MEETINGS, now), "an update made on the meeting day was for that meeting"
    assert not is_missing_update(after, MEETINGS, now)
    assert is_missing_update([], MEETINGS, now)


def test_before_the_first_bmg_only_actions_never_updated_are_missing() -> None:
    now = london(2019, 6, 1)
    assert is_missing_update([], MEETINGS, now)
    assert not is_missing_update([update(1, london(2019, 5, 1), Rag.GREEN)], MEETINGS, now)


def test_a_completed_action_owes_no_update() -> None:
    assert not is_missing_update([update(1, london(2019, 5, 1), Rag.BLUE)], MEETINGS, london(2019, 12, 1))


REPORTING = [Due.month(2026, 6), Due.month(2026, 10), Due.month(2027, 2)]


def test_a_report_is_missed_when_no_update_came_in_its_window() -> None:
    history = [update(1, london(2026, 5, 20), Rag.GREEN), update(2, london(2026, 11, 2), Rag.GREEN)]
    # June reported (20 May is in its window); October's window (July-October) had nothing; 2 November is
    # in February's window, which has not closed.
    assert missed_reports(REPORTING, history, london(2026, 12, 1)) == (Due.month(2026, 10),)
    assert missed_reports(REPORTING, [], london(2027, 3, 1)) == tuple(REPORTING), "in date order"
    assert missed_reports(REPORTING, [], london(2026, 6, 30, 23)) == (), "June has not passed yet"


def test_a_window_runs_from_the_end_of_the_previous_milestone_to_the_end_of_its_own() -> None:
    last_minute = [update(1, london(2026, 6, 30, 23, 59), Rag.AMBER)]
    assert missed_reports(REPORTING, last_minute, london(2026, 11, 1)) == (Due.month(2026, 10),)
    first_minute = [update(1, london(2026, 7, 1, 0, 0), Rag.AMBER)]
    assert missed_reports(REPORTING, first_minute, london(2026, 11, 1)) == (Due.month(2026, 6),)
    written_backwards = list(reversed(REPORTING))
    assert missed_reports(written_backwards, first_minute, london(2026, 11, 1)) == (Due.month(2026, 6),)


def test_a_withdrawn_update_reports_nothing() -> None:
    history = [update(1, london(2026, 6, 10), Rag.GREEN), update(2, london(2026, 6, 10, 0, 5), None, withdraws=1)]
    assert missed_reports(REPORTING[:1], history, london(2026, 7, 1)) == (Due.month(2026, 6),)


def test_a_blue_action_owes_no_reports_after_it_became_blue() -> None:
    done_in_august = [update(1, london(2026, 6, 1), Rag.AMBER), update(2, london(2026, 8, 1), Rag.BLUE)]
    assert missed_reports(REPORTING, done_in_august, london(2027, 6, 1)) == ()
    reopened = [*done_in_august, update(3, london(2026, 11, 5), Rag.AMBER)]
    assert missed_reports(REPORTING, reopened, london(2027, 6, 1)) == (), "November's update reported for February"
    assert missed_reports([*REPORTING, Due.month(2027, 6)], reopened, london(2027, 7, 1)) == (Due.month(2027, 6),)


def missed_by_definition(dues: list[Due], history: list[UpdateFacts], now: datetime) -> tuple[Due, ...]:
    """The rule as the business unit states it, window by window, looking at every update each time."""
    withdrawn = {u.withdraws for u in history if u.withdraws is not None}
    live = sorted((u for u in history if u.withdraws is None and u.id not in withdrawn), key=lambda u: (u.at, u.id))
    missed, opens = [], None
    for due in in_date_order(dues):
        closes = datetime.combine(due.on + timedelta(days=1), datetime.min.time(), LONDON)
        if closes > now:
            break
        before = [u for u in live if opens is not None and u.at < opens]
        was_blue = bool(before) and before[-1].rag is Rag.BLUE
        if not any((opens is None or u.at >= opens) and u.at < closes for u in live) and not was_blue:
            missed.append(due)
        opens = closes
    return tuple(missed)


DAYS_2026 = st.integers(0, 364).map(lambda n: london(2026, 1, 1) + timedelta(days=n))


@given(
    days=st.lists(st.integers(0, 364), min_size=1, max_size=6),
    updates=st.lists(
        st.tuples(DAYS_2026, st.integers(0, 23), st.sampled_from([*Rag, None]), st.integers(0, 40)), max_size=40
    ),
    now=DAYS_2026,
)
def test_missed_reports_over_long_histories_follow_the_rule(
    days: list[int], updates: list[tuple[datetime, int, Rag | None, int]], now: datetime
) -> None:
    """Found by bisection (an action updated hundreds of times must not cost hundreds of passes per
    milestone), with the same answer as the rule applied window by window, withdrawals and Blue included."""
    dues = [Due(date(2026, 1, 1) + timedelta(days=d), Precision.DAY) for d in days]
    history = [
        UpdateFacts(i + 1, day + timedelta(hours=hour), rag, withdraws=(back if rag is None and back <= i else None))
        for i, (day, hour, rag, back) in enumerate(updates)
    ]
    history = [u for u in history if u.rag is not None or u.withdraws is not None]
    assert missed_reports(dues, history, now) == missed_by_definition(dues, history, now)


def test_due_soon_looks_30_days_ahead_or_to_the_next_bmg_whichever_is_later() -> None:
    today = date(2026, 11, 23)
    assert due_soon_days(today, date(2026, 11, 30)) == 30, "a BMG next week does not shorten the window"
    assert due_soon_days(today, date(2027, 1, 20)) == 58
    assert due_soon_days(today, None) == 30


AGREED = london(2026, 12, 3, 14)


def test_an_accepted_revision_replaces_its_milestone_and_keeps_where_it_came_from() -> None:
    moved = Revision(replaces=date(2026, 10, 31), due=Due.month(2027, 3), agreed=AGREED)
    milestones = effective_milestones(REPORTING, [moved])
    assert [m.due for m in milestones] == [Due.month(2026, 6), Due.month(2027, 2), Due.month(2027, 3)], "date order"
    revised = milestones[-1]
    assert (revised.revised_from, revised.agreed, revised.original) == (Due.month(2026, 10), AGREED, REPORTING[1])
    assert effective_milestones(REPORTING, [])[1].revised_from is None
    stale = Revision(replaces=date(2025, 1, 31), due=Due.month(2027, 3), agreed=AGREED)
    assert [m.due for m in effective_milestones(REPORTING, [stale])] == REPORTING, "its milestone is not in the plan"


def test_the_latest_agreed_revision_of_a_milestone_wins() -> None:
    first = Revision(replaces=date(2027, 2, 28), due=Due.month(2027, 4), agreed=AGREED)
    second = Revision(replaces=date(2027, 2, 28), due=Due.month(2027, 6), agreed=AGREED + timedelta(days=90))
    assert effective_milestones(REPORTING, [second, first])[-1].due == Due.month(2027, 6)


def test_overdue_and_missed_reports_follow_the_revised_milestones() -> None:
    moved = Revision(replaces=date(2027, 2, 28), due=Due.month(2027, 6), agreed=AGREED)
    dues = [m.due for m in effective_milestones(REPORTING, [moved])]
    assert not is_overdue(dues, Rag.AMBER, london(2027, 4, 1)), "February moved to June"
    assert missed_reports(dues, [], london(2027, 4, 1)) == (Due.month(2026, 6), Due.month(2026, 10))


def test_a_proposal_revises_the_next_pending_milestone_or_else_the_last() -> None:
    milestones = effective_milestones(REPORTING, [])
    assert revised_milestone(milestones, london(2026, 7, 15)) == milestones[1], "June had passed; October pending"
    assert revised_milestone(milestones, london(2026, 6, 30, 12)) == milestones[0], "June's last day is not over"
    assert revised_milestone(milestones, london(2027, 5, 1)) == milestones[2], "all passed: the last"
    assert revised_milestone((), london(2027, 5, 1)) is None


def test_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2019, 1, 1))  # noqa: DTZ001
    assert FixedClock(london(2019, 1, 1)).now() == london(2019, 1, 1)
