"""The plan's rules over plain values, with the partnership's clock in Europe/London."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.clock import FixedClock
from bot.rules import (
    Due,
    Precision,
    Rag,
    UpdateFacts,
    current_rag,
    current_update,
    is_missing_update,
    is_overdue,
    last_meeting,
    next_due,
    next_meeting,
    parse_due,
    parse_dues,
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


def test_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2019, 1, 1))  # noqa: DTZ001
    assert FixedClock(london(2019, 1, 1)).now() == london(2019, 1, 1)
