"""The recogniser: forgiving phrasing, deterministic answers, and a suggestion rather than silence."""

from __future__ import annotations

import pytest

from bot.intents import Intent, IntentName, Scope, recognise
from bot.rules import Rag

QA, CDOP = "Children's QA subgroup", "CDOP"
CANONICAL = {  # every name and alias the recogniser knows, and the sub-group it stands for
    QA: QA,
    "QA subgroup": QA,
    "Quality Assurance and Performance": QA,
    CDOP: CDOP,
    "Child Death Overview Panel": CDOP,
    "Training subgroup": "Training subgroup",
    "Missing work group": "Missing work group",
    "Missing group": "Missing work group",
    "BMG": "Business Management Group",
    "Business Management Group": "Business Management Group",
}
NAMES = list(CANONICAL)


def said(text: str) -> Intent:
    return recognise(text, NAMES)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("help", IntentName.HELP),
        ("what can you do?", IntentName.HELP),
        ("my actions", IntentName.MY_ACTIONS),
        ("What am I leading", IntentName.MY_ACTIONS),
        ("what's overdue?", IntentName.OVERDUE),
        ("overdeu", IntentName.OVERDUE),
        ("due soon", IntentName.DUE_SOON),
        ("due before the next BMG", IntentName.DUE_SOON),
        ("next BMG", IntentName.NEXT_BMG),
        ("when is the next bmg?", IntentName.NEXT_BMG),
        ("no update", IntentName.NO_UPDATE),
        ("what's missing", IntentName.NO_UPDATE),
        ("show 4.2", IntentName.SHOW),
        ("4.2", IntentName.SHOW),
        ("history 4.2", IntentName.HISTORY),
        ("more", IntentName.MORE),
        ("bananas", IntentName.UNKNOWN),
        ("show", IntentName.UNKNOWN),
    ],
)
def test_phrasing(text: str, name: IntentName) -> None:
    assert said(text).name is name


def test_the_longest_phrase_wins_whatever_the_order() -> None:
    assert said("due before the next BMG").name is IntentName.DUE_SOON
    assert said("next BMG").name is IntentName.NEXT_BMG


@pytest.mark.parametrize(
    ("text", "subgroup"),
    [
        ("actions for CDOP", CDOP),
        ("cdop", CDOP),
        ("children's qa", QA),
        ("actions for the QA subgroup", QA),
        ("quality assurance", QA),
        ("what does the training subgroup owe", "Training subgroup"),
        ("Child Death Overview Panel", CDOP),
        ("the missing group", "Missing work group"),
    ],
)
def test_sub_groups_are_matched_forgivingly(text: str, subgroup: str) -> None:
    intent = said(text)
    assert intent.name is IntentName.SUBGROUP_ACTIONS
    assert intent.subgroup is not None
    assert CANONICAL[intent.subgroup] == subgroup
    assert intent.scope is Scope.SUBGROUP


def test_a_question_about_a_sub_group() -> None:
    overdue = said("anything overdue for the QA subgroup")
    assert (overdue.name, overdue.scope) == (IntentName.OVERDUE, Scope.SUBGROUP)
    assert overdue.subgroup is not None and CANONICAL[overdue.subgroup] == QA
    reds = said("reds for CDOP")
    assert (reds.name, reds.rag, reds.subgroup) == (IntentName.BY_RAG, Rag.RED, CDOP)


def test_unrelated_words_match_no_sub_group() -> None:
    assert said("overdue please").subgroup is None
    assert said("bananas and custard").name is IntentName.UNKNOWN


@pytest.mark.parametrize(("text", "rag"), [("red", Rag.RED), ("ambers", Rag.AMBER), ("completed", Rag.BLUE)])
def test_rag_words(text: str, rag: Rag) -> None:
    intent = said(text)
    assert (intent.name, intent.rag) == (IntentName.BY_RAG, rag)


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("overdue", Scope.DEFAULT),
        ("my overdue", Scope.MINE),
        ("all overdue", Scope.ALL),
        ("overdue for CDOP", Scope.SUBGROUP),
    ],
)
def test_scope(text: str, scope: Scope) -> None:
    assert said(text).scope is scope


def test_references() -> None:
    assert said("show 13.1").ref == "13.1"
    assert said("what about 04.2?").ref == "4.2"
    assert said("show 4.2.1").ref is None, "not a reference this plan uses"


def test_linking_a_channel() -> None:
    intent = said("link this channel to children's QA")
    assert (intent.name, intent.subgroup) == (IntentName.LINK_CHANNEL, "Children's QA subgroup")
    assert said("link this channel to the choir").subgroup is None


def test_bare_actions_means_the_conversation_s_own() -> None:
    intent = said("actions")
    assert (intent.name, intent.subgroup, intent.unmatched) == (IntentName.SUBGROUP_ACTIONS, None, "")
    assert said("actions for the choir").unmatched == "choir"


@pytest.mark.parametrize(
    ("text", "ref", "rag", "note"),
    [
        ("4.2 amber: analysis delayed to November", "4.2", Rag.AMBER, "analysis delayed to November"),
        ("update 7.1 green - training delivered to 120 staff", "7.1", Rag.GREEN, "training delivered to 120 staff"),
        ("4.2 is red because the report was not received", "4.2", Rag.RED, "the report was not received"),
        ("mark 3.1 complete: evidence in the October audit", "3.1", Rag.BLUE, "evidence in the October audit"),
        ("13.5 at risk, schools not yet engaged", "13.5", Rag.AMBER, "schools not yet engaged"),
        ("6.1 off track: panel has not met", "6.1", Rag.RED, "panel has not met"),
        ("2.3 done: tool adopted in June", "2.3", Rag.BLUE, "tool adopted in June"),
        ("4.1 on track", "4.1", Rag.GREEN, None),
    ],
)
def test_one_message_updates(text: str, ref: str, rag: Rag, note: str | None) -> None:
    intent = said(text)
    assert intent.name is IntentName.UPDATE
    assert intent.draft is not None
    assert (intent.draft.ref, intent.draft.rag, intent.draft.note) == (ref, rag, note)


def test_what_is_not_an_update() -> None:
    assert said("show 4.2").name is IntentName.SHOW
    assert said("reds for CDOP").name is IntentName.BY_RAG
    assert said("4.2").name is IntentName.SHOW
    assert said("undo").name is IntentName.UNDO
    guided = said("update")
    assert guided.name is IntentName.UPDATE and guided.draft is not None and guided.draft.rag is None
    unknown = said("4.2 purple: whatever happens")
    assert unknown.draft is not None and unknown.draft.unknown_rag == "purple"
