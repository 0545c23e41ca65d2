"""Understanding people as they write: each class of message that used to fail, the README's
examples, sub-groups by abbreviation and distinctive words, and the rule that an update is never
taken for a question. Run against the NCSCP demo plan's sub-groups, with the model trained on the
whole corpus (the held-out figures are `make language-report`'s)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import messages
from bot.demo import demo_files
from bot.language import Intent, IntentName, Scope, SubgroupIndex, recognise, vocabulary
from bot.language.classifier import corpus, read_corpus
from bot.rules import Rag
from storage.planfile import load_plan_file

README = Path(__file__).resolve().parents[1] / "README.md"
NCSCP = load_plan_file(next(p for p in demo_files() if p.name.startswith("ncscp")))
GROUPS = vocabulary([(g.name, g.aliases) for g in NCSCP.subgroups])
QA, LI, CSE = "Children's QA subgroup", "Learning and Improvement subgroup", "CSECAG group"
NSCP = load_plan_file(next(p for p in demo_files() if p.name.startswith("nscp")))
NSCP_GROUPS = vocabulary([(g.name, g.aliases) for g in NSCP.subgroups])


def said(text: str) -> Intent:
    return recognise(text, GROUPS)


def group_of(intent: Intent) -> str | None:
    return GROUPS.canonical.get(intent.subgroup) if intent.subgroup else None


@pytest.mark.parametrize(
    "text",
    ["what's on my plate", "what am I responsible for", "my acitons please", "what have I got on", "my actions"],
)
def test_everyday_ways_to_ask_for_one_s_own_work(text: str) -> None:
    assert said(text).name is IntentName.MY_ACTIONS


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("overdue for L&I", LI),
        ("anything overdue for l and i", LI),
        ("overdue for the quality assurance lot", QA),
        ("anything overdue for child exploitation", CSE),
        ("overdue for CSECAG", CSE),
    ],
)
def test_sub_groups_by_abbreviation_and_distinctive_words(text: str, group: str) -> None:
    intent = said(text)
    assert intent.name is IntentName.OVERDUE
    assert (intent.scope, group_of(intent)) == (Scope.SUBGROUP, group), "never the asker's own overdue actions"


def test_an_alias_added_in_the_plan_file_is_understood() -> None:
    plain = said("reds for the safeguarding squad")
    assert plain.subgroup is None
    groups = vocabulary(
        [(g.name, [*g.aliases, "Safeguarding Squad"] if g.name == QA else g.aliases) for g in NCSCP.subgroups]
    )
    intent = recognise("reds for the safeguarding squad", groups)
    assert (intent.name, groups.canonical.get(intent.subgroup or "")) == (IntentName.BY_RAG, QA)


def test_abbreviations_two_sub_groups_share_are_not_guessed() -> None:
    index = SubgroupIndex([("Learning and Improvement", []), ("Leadership and Inclusion", [])])
    assert index.find("overdue for l&i") is None


@pytest.mark.parametrize("text", ["give me the big picture", "plan status", "overview", "the big picture"])
def test_the_plan_as_a_whole(text: str) -> None:
    assert said(text).name is IntentName.OVERVIEW


@pytest.mark.parametrize(
    ("text", "rags"),
    [
        ("show reds and ambers", (Rag.RED, Rag.AMBER)),
        ("red or amber ones", (Rag.RED, Rag.AMBER)),
        ("reds", (Rag.RED,)),
        ("anything complete", (Rag.BLUE,)),
    ],
)
def test_several_ratings_in_one_question_combine(text: str, rags: tuple[Rag, ...]) -> None:
    intent = said(text)
    assert (intent.name, intent.rags) == (IntentName.BY_RAG, rags)


def test_the_bmg_as_a_meeting_is_not_the_business_management_group() -> None:
    quiet = said("which ones have gone quiet since the BMG")
    assert (quiet.name, quiet.subgroup) == (IntentName.NO_UPDATE, None)
    assert said("when is the next BMG").subgroup is None
    assert group_of(said("actions for the business management group")) == "Business Management Group"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("cheers", IntentName.THANKS),
        ("ta", IntentName.THANKS),
        ("thanks very much", IntentName.THANKS),
        ("bye", IntentName.GOODBYE),
        ("hiya", IntentName.GREETING),
        ("ok", IntentName.ACKNOWLEDGE),
    ],
)
def test_small_talk(text: str, name: IntentName) -> None:
    assert said(text).name is name


@pytest.mark.parametrize(
    ("text", "ref", "rag", "note"),
    [
        ("7.2 - red - trainer left, cohorts cancelled", "7.2", Rag.RED, "trainer left, cohorts cancelled"),
        ("progress on 13.2: audit done, on track", "13.2", Rag.GREEN, "audit done"),
        ("13.2: green. three schools took part", "13.2", Rag.GREEN, "three schools took part"),
        ("4.2 amber: analysis delayed to November", "4.2", Rag.AMBER, "analysis delayed to November"),
        ("update 7.1 green - training delivered", "7.1", Rag.GREEN, "training delivered"),
        ("4.2 is red because the report was not received", "4.2", Rag.RED, "the report was not received"),
        ("mark 3.1 complete: evidence in the October audit", "3.1", Rag.BLUE, "evidence in the October audit"),
        ("set 4.2 to amber - waiting on health data", "4.2", Rag.AMBER, "waiting on health data"),
        ("analysis delayed to November, 4.2 amber", "4.2", Rag.AMBER, "analysis delayed to November"),
        ("13.5 at risk, schools not yet engaged", "13.5", Rag.AMBER, "schools not yet engaged"),
        ("6.1 off track: panel has not met", "6.1", Rag.RED, "panel has not met"),
        ("2.3 done: tool adopted in June", "2.3", Rag.BLUE, "tool adopted in June"),
        ("4.1 on track", "4.1", Rag.GREEN, None),
    ],
)
def test_updates_as_people_write_them(text: str, ref: str, rag: Rag, note: str | None) -> None:
    intent = said(text)
    assert intent.name is IntentName.UPDATE and not intent.confirm, "stored at once, not shown as a card"
    assert intent.draft is not None
    assert (intent.draft.ref, intent.draft.rag, intent.draft.note) == (ref, rag, note)


@pytest.mark.parametrize(
    ("text", "rag", "note"),
    [
        ("4.2 should be green now, all done", Rag.GREEN, "should be green now, all done"),
        ("13.2 audit done", None, "audit done"),
        ("13.2 audit done, on track", Rag.GREEN, "audit done"),
        ("6.1 we are on track with recruitment", None, "we are on track with recruitment"),
        ("3.1 the training is done", None, "the training is done"),
        (
            "3.2 survey closed, amber while we analyse responses",
            Rag.AMBER,
            "survey closed, amber while we analyse responses",
        ),
        ("7.2 amber - waiting on the amber alert review", Rag.AMBER, "waiting on the amber alert review"),
        ("4.2 green. ofsted said the plan is on track", Rag.GREEN, "ofsted said the plan is on track"),
        ("5.1 it's red now, lead off sick", Rag.RED, "lead off sick"),
        ("11.1 - police signed the audit tool, on track ta", Rag.GREEN, "police signed the audit tool"),
        ("7.4 venue sorted, back to green", Rag.GREEN, "venue sorted"),
        ("re 6.1: all done", Rag.BLUE, None),
    ],
)
def test_the_note_keeps_what_the_lead_wrote(text: str, rag: Rag | None, note: str) -> None:
    """Only the reference and a rating that is the update's own slot (beside the reference, or set
    off by punctuation) are taken out; a rating word inside a sentence stays in it, and a phrase
    such as "done" inside the note is not taken for a rating."""
    intent = said(text)
    assert intent.name is IntentName.UPDATE and intent.draft is not None
    assert (intent.draft.rag, intent.draft.note) == (rag, note)


def test_a_rating_word_it_does_not_know_is_still_an_update() -> None:
    intent = said("4.2 purple: whatever happens")
    assert intent.name is IntentName.UPDATE
    assert intent.draft is not None and intent.draft.unknown_rag == "purple"


@pytest.mark.parametrize("text", ["is 4.2 red?", "what about 4.2, amber?"])
def test_a_reference_and_a_rating_is_never_a_query_but_may_be_asked_about(text: str) -> None:
    intent = said(text)
    assert intent.name is IntentName.UPDATE and intent.confirm
    assert intent.draft is not None and intent.draft.ref == "4.2"


def test_a_reference_and_a_note_is_an_update_whose_rating_is_asked() -> None:
    intent = said("4.2 report delayed until March, waiting on health data")
    assert intent.name is IntentName.UPDATE
    assert intent.draft is not None
    assert (intent.draft.ref, intent.draft.rag, intent.draft.note) == (
        "4.2",
        None,
        "report delayed until March, waiting on health data",
    )


def test_a_rating_and_a_note_without_a_reference_is_an_update_whose_action_is_asked() -> None:
    intent = said("amber: analysis delayed to November")
    assert intent.name is IntentName.UPDATE
    assert intent.draft is not None
    assert (intent.draft.ref, intent.draft.rag, intent.draft.note) == (None, Rag.AMBER, "analysis delayed to November")


@pytest.mark.parametrize(("text", "name"), [("show 4.2", IntentName.SHOW), ("4.2", IntentName.SHOW)])
def test_a_bare_reference_is_a_question(text: str, name: IntentName) -> None:
    intent = said(text)
    assert (intent.name, intent.ref) == (name, "4.2")


def test_history_is_a_question() -> None:
    intent = said("history 4.2")
    assert (intent.name, intent.ref) == (IntentName.HISTORY, "4.2")


def test_what_is_not_understood_gets_the_nearest_things_to_do() -> None:
    intent = said("bananas and custard")
    assert intent.name is IntentName.UNKNOWN
    assert 2 <= len(intent.suggestions) <= 3
    assert IntentName.UPDATE not in intent.suggestions and IntentName.UNKNOWN not in intent.suggestions


CHANGES = {
    IntentName.UPDATE,
    IntentName.UNDO,
    IntentName.REDACT,
    IntentName.SNOOZE,
    IntentName.SET_BMG,
    IntentName.LINK_CHANNEL,
    IntentName.ACCEPT_DATE,
}


@pytest.mark.parametrize("text", ["asdf qwerty", "bananas and custard", "zzzz", "?"])
def test_gibberish_gets_the_general_offers(text: str) -> None:
    intent = said(text)
    assert intent.name is IntentName.UNKNOWN
    assert set(intent.suggestions) == {IntentName.MY_ACTIONS, IntentName.OVERVIEW, IntentName.HELP}


def test_nothing_that_changes_something_is_offered_as_a_guess() -> None:
    """Not for "can you book me a room", nor for anything else the corpus says the bot cannot do."""
    cannot = ["can you book me a room", *(e.plain for e in corpus() if e.label is IntentName.UNKNOWN)]
    offered = {(text, name) for text in cannot for name in said(text).suggestions if name in CHANGES}
    assert offered == set()
    assert 2 <= len(said("can you book me a room").suggestions) <= 3


def test_two_near_misses_get_different_offers_each_near_what_was_typed() -> None:
    stuck, meeting = said("which ones are stuck"), said("when do we get together")
    assert stuck.name is IntentName.UNKNOWN and meeting.name is IntentName.UNKNOWN
    assert stuck.suggestions[0] is IntentName.BY_RAG and IntentName.NEXT_BMG not in stuck.suggestions
    assert meeting.suggestions[0] is IntentName.NEXT_BMG and IntentName.BY_RAG not in meeting.suggestions


def test_every_offer_is_a_question_with_words_to_say() -> None:
    from bot.language.recogniser import OFFERABLE

    assert not set(OFFERABLE) & CHANGES
    for name in OFFERABLE:
        offer = messages.offer(name.value, "4.2")
        assert offer is not None, name
        assert said(offer[0]).name is name, f"the button {offer[0]!r} asks what it offers"
    assert messages.offer("undo", "4.2") is None and messages.offer("redact", "4.2") is None


def test_references_are_read_as_the_plan_writes_them() -> None:
    assert said("show 13.1").ref == "13.1"
    assert said("what about 04.2?").ref == "4.2"
    assert said("show 4.2.1").ref is None, "not a reference this plan uses"


def test_linking_a_channel_names_its_sub_group() -> None:
    intent = said("link this channel to children's QA")
    assert (intent.name, group_of(intent)) == (IntentName.LINK_CHANNEL, QA)


def test_a_sub_group_the_partnership_lacks_is_noticed() -> None:
    intent = said("actions for the choir")
    assert intent.subgroup is None
    assert intent.unmatched == "choir" or intent.name is IntentName.UNKNOWN


@pytest.mark.parametrize(
    ("text", "name", "unmatched"),
    [
        ("overdue for the choir", IntentName.OVERDUE, "choir"),
        ("reds for the choir please", IntentName.BY_RAG, "choir"),
        ("anything late for the housing panel", IntentName.OVERDUE, "housing"),
        ("whats due soon for the youth offending team", IntentName.DUE_SOON, "youth offending"),
        ("missed reports for the choir", IntentName.MISSED_REPORTS, "choir"),
    ],
)
def test_a_question_about_a_sub_group_it_does_not_know_keeps_the_name(
    text: str, name: IntentName, unmatched: str
) -> None:
    intent = said(text)
    assert (intent.name, intent.subgroup, intent.unmatched) == (name, None, unmatched)


def test_questions_that_name_no_sub_group_are_not_taken_for_one() -> None:
    """Ending with "for" or "of" something is not naming a sub-group: every question in the corpus
    that names none, and a few more, is answered rather than met with "I don't know that sub-group"."""
    asked = [e.plain for e in corpus() if not e.subgroup and e.label not in {IntentName.UPDATE, IntentName.UNKNOWN}]
    more = ["overdue for the next fortnight", "due soon for this quarter", "actions for our team", "reds for me"]
    taken = [(text, said(text).unmatched) for text in [*asked, *more] if said(text).unmatched]
    assert taken == []


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("overdue for child exploitation", "Child Exploitation steering group"),
        ("anything late for the child exploitation lot", "Child Exploitation steering group"),
        ("reds for the neglect group", "Neglect group"),
        ("overdue for front door", "Front Door and Early Help group"),
        ("whats overdue for quality assurance", "Quality Assurance group"),
        ("any ambers for practice review", "Child Safeguarding Practice Review group"),
    ],
)
def test_nottinghamshire_sub_groups_by_their_distinctive_words(text: str, group: str) -> None:
    intent = recognise(text, NSCP_GROUPS)
    assert intent.scope is Scope.SUBGROUP
    assert NSCP_GROUPS.canonical.get(intent.subgroup or "") == group


def test_a_phrase_only_one_sub_group_has_names_it_though_its_first_word_is_generic() -> None:
    index = SubgroupIndex([("Child Exploitation steering group", []), ("Child Death Overview Panel", [])])
    asked = ("overdue for child exploitation", "late for child death")
    names = [getattr(index.find(text), "name", None) for text in asked]
    assert names == ["Child Exploitation steering group", "Child Death Overview Panel"]
    assert index.find("overdue for child") is None, "a word both names have names neither"
    assert index.find("reds and send them to me") is None, "joining words make no name"


@pytest.mark.parametrize("text", ["any ambers in L&I", "overdue for l and i", "reds for L & I", "L&I overdue"])
def test_an_abbreviation_is_never_read_as_i(text: str) -> None:
    """Nottinghamshire has no Learning and Improvement group: the question is about a sub-group it
    does not know, never about the asker's own actions."""
    intent = recognise(text, NSCP_GROUPS)
    assert intent.scope is not Scope.MINE
    assert (intent.subgroup, intent.unmatched.replace(" ", "")) in {(None, "l&i"), (None, "landi")}


@pytest.mark.parametrize("text", ["what have i got overdue", "anything i need to update", "reds i lead"])
def test_i_on_its_own_is_still_the_asker(text: str) -> None:
    assert recognise(text, NSCP_GROUPS).scope is Scope.MINE


def _readme_examples() -> list[str]:
    """Every `example` in the "you say" column of the README's tables of things to say."""
    rows, in_table = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| you say"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and line.startswith("| `"):
            rows.append(line)
    found = []
    for row in rows:
        first_cell = row.split("|")[1]
        found += [e for e in re.findall(r"`([^`]+)`", first_cell) if "..." not in e and "<" not in e]
    return found


README_INTENTS = {
    "help": IntentName.HELP,
    "my actions": IntentName.MY_ACTIONS,
    "what am I leading": IntentName.MY_ACTIONS,
    "overdue": IntentName.OVERDUE,
    "anything overdue for the QA subgroup": IntentName.OVERDUE,
    "all overdue": IntentName.OVERDUE,
    "due soon": IntentName.DUE_SOON,
    "due before the next BMG": IntentName.DUE_SOON,
    "red": IntentName.BY_RAG,
    "amber": IntentName.BY_RAG,
    "reds for CDOP": IntentName.BY_RAG,
    "reds and ambers": IntentName.BY_RAG,
    "complete": IntentName.BY_RAG,
    "no update": IntentName.NO_UPDATE,
    "missed reports": IntentName.MISSED_REPORTS,
    "show 4.2": IntentName.SHOW,
    "history 4.2": IntentName.HISTORY,
    "actions for CDOP": IntentName.SUBGROUP_ACTIONS,
    "children's qa": IntentName.SUBGROUP_ACTIONS,
    "next BMG": IntentName.NEXT_BMG,
    "plan status": IntentName.OVERVIEW,
    "the big picture": IntentName.OVERVIEW,
    "summary preview": IntentName.SUMMARY_PREVIEW,
    "summary preview for CDOP": IntentName.SUMMARY_PREVIEW,
    "snooze": IntentName.SNOOZE,
    "set BMG 2026-12-03": IntentName.SET_BMG,
    "BMG paper": IntentName.PAPER,
    "accept 4.2's new date": IntentName.ACCEPT_DATE,
    "link this channel to CDOP": IntentName.LINK_CHANNEL,
    "4.2 amber: analysis delayed to November": IntentName.UPDATE,
    "update 7.1 green - training delivered": IntentName.UPDATE,
    "4.2 is red because the report was not received": IntentName.UPDATE,
    "mark 3.1 complete: evidence in the October audit": IntentName.UPDATE,
    "7.2 - red - trainer left, cohorts cancelled": IntentName.UPDATE,
    "progress on 13.2: audit done, on track": IntentName.UPDATE,
    "4.2 amber": IntentName.UPDATE,
    "4.2 purple: ...": IntentName.UPDATE,
    "4.2 report delayed until March": IntentName.UPDATE,
    "amber: analysis delayed": IntentName.UPDATE,
    "update": IntentName.UPDATE,
    "undo": IntentName.UNDO,
    "redact 4.2": IntentName.REDACT,
    "redact my last update on 4.2": IntentName.REDACT,
    "more": IntentName.MORE,
    "cheers": IntentName.THANKS,
}


def test_every_readme_example_is_understood() -> None:
    examples = _readme_examples()
    assert set(examples) <= set(README_INTENTS), (
        f"README examples without an expected intent: {set(examples) - set(README_INTENTS)}"
    )
    for example in examples:
        assert said(example).name is README_INTENTS[example], example


def test_the_readme_examples_are_in_the_corpus() -> None:
    known = {e.plain.lower() for e in corpus()}
    missing = [e for e in _readme_examples() if e.lower() not in known and "purple" not in e]
    assert not missing, f"add these to bot/language/corpus.tsv: {missing}"


def test_the_corpus_covers_every_intent() -> None:
    examples = corpus()
    assert len(examples) >= 600
    labels = {e.label for e in examples}
    assert labels == set(IntentName), f"intents with no examples: {set(IntentName) - labels}"


def test_a_malformed_corpus_line_is_named() -> None:
    with pytest.raises(ValueError, match="corpus line 2: 'dance' is not an intent"):
        read_corpus("help\thelp\ndance\tlet's dance\n")
    with pytest.raises(ValueError, match="corpus line 1: write it as label<TAB>utterance"):
        read_corpus("help me please\n")


@pytest.mark.parametrize("admin", [False, True])
def test_everything_help_suggests_is_understood_as_written(admin: bool) -> None:
    for said_list, what in messages.help_lines("8.1", "CDOP", admin):
        for example in said_list:
            intent = said(example)
            assert intent.name is not IntentName.UNKNOWN, f"help says {example!r} ({what}) but it is not understood"
            assert not intent.confirm, example


@pytest.mark.parametrize(
    "text",
    [
        "redact 4.2",
        "redact my last update on 4.2",
        "remove the note i posted on 7.1, it has a child's name in it",
        "please take down my last update on 3.2",
    ],
)
def test_asking_to_redact_a_note(text: str) -> None:
    intent = said(text)
    assert intent.name is IntentName.REDACT
    assert intent.ref == re.search(r"\d+\.\d+", text)[0]  # type: ignore[index]


def test_my_last_update_is_one_s_own() -> None:
    assert said("redact my last update on 4.2").scope is Scope.MINE
    assert said("redact 4.2").scope is not Scope.MINE


def test_the_model_scores_as_scikit_learn_does_and_survives_a_round_trip(tmp_path: Path) -> None:
    from bot.language.classifier import IntentModel, example_features, pipeline

    examples = list(corpus())
    trained_on = [example_features(e) for e in examples]
    fitted = pipeline().fit(trained_on, [e.label.value for e in examples])
    model = IntentModel.from_fitted(fitted, trained_on)
    texts = [*trained_on[::7], "zz unheard of words", "", "ok", "  spaced   out  ", "a"]
    expected = fitted.decision_function(texts)
    for text, row in zip(texts, expected, strict=True):
        assert max(abs(a - b) for a, b in zip(model.margins(text), row, strict=True)) < 1e-9, text
    model.save(tmp_path / "model.npz")
    again = IntentModel.load(tmp_path / "model.npz")
    assert [again.scores(t) for t in texts] == [model.scores(t) for t in texts]
    assert again.words == model.words
