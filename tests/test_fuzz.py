"""Hostile and odd input to the parts that read what people write: the recogniser, the update
reader, the date reader and the meeting-date reader. Whatever arrives, they answer (or refuse with a
ValueError meant for a person) without crashing, hanging or changing what was written."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.desk import meeting_day
from bot.language import Intent, IntentName, recognise, vocabulary
from bot.language.update_reader import read_update
from bot.rules import Due, parse_due, parse_dues
from tests.harness import ncscp_plan

GROUPS = vocabulary([(g.name, g.aliases) for g in ncscp_plan().subgroups])
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text people paste: words, references, ratings, punctuation from Word, control characters, emoji,
# lone surrogates, Markdown, HTML and things that look like card JSON.
PIECES = st.sampled_from(
    [
        "4.2",
        "13.5",
        "04.02",
        "4.2.1",
        "amber",
        "Red",
        "on track",
        "done",
        ":",
        " - ",
        "–",
        "—",
        "\u00a0",
        "\t",
        "\r\n",
        "\x00",
        "\x1b[31m",
        "\ud800",
        "👍",
        "**bold**",
        "[link](https://x.example)",
        "<b>hi</b>",
        '{"type": "Action.OpenUrl"}',
        "<at>Plan Tracker</at>",
        "(revised date: March 2027)",
        "BMG",
        "L&I",
        "overdue",
        "my actions",
        "update",
        "undo",
        "@",
        "=SUM(A1)",
        "9" * 40,
        "'",
        '"',
        "\\",
    ]
)
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(PIECES, max_size=20).map(" ".join),
    st.text(alphabet=string.printable, max_size=2000),
)


@FAST
@given(TEXT)
def test_the_recogniser_answers_anything(text: str) -> None:
    intent = recognise(text, GROUPS)
    assert isinstance(intent, Intent)
    assert intent.name in set(IntentName)
    if intent.draft is not None and intent.draft.note is not None:
        assert len(intent.draft.note) <= len(text), "a note is read from the text, never made up"


@FAST
@given(TEXT)
def test_the_update_reader_reads_or_declines(text: str) -> None:
    reading = read_update(text)
    if reading is not None:
        assert reading.draft.ref is None or reading.draft.ref.count(".") == 1


@FAST
@given(st.text(max_size=80))
def test_the_date_reader_reads_or_refuses_with_a_message(text: str) -> None:
    for read in (parse_due, parse_dues):
        try:
            found = read(text)
        except ValueError as refused:
            message = str(refused)
        else:
            message = "read"
            assert all(isinstance(d, Due) for d in (found if isinstance(found, list) else [found]))
        assert message, "a refusal says what is wrong"


@FAST
@given(TEXT)
def test_a_meeting_date_is_read_or_not_at_all(text: str) -> None:
    day = meeting_day(text)
    assert day is None or 1900 < day.year < 10000


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_a_very_long_message_is_read_quickly(size: int) -> None:
    text = "4.2 amber: " + "delayed by late returns " * (size // 24)
    intent = recognise(text, GROUPS)
    assert intent.name is IntentName.UPDATE
