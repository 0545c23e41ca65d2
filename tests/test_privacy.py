"""Identifying details about a child or family: found in the ways leads write them, not found in
what only looks like them (deadlines, PO numbers, helplines), cut out exactly, and the partnership's
own case ids taken from its plan file. The corpus figures are `make privacy-report`'s."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.privacy import REDACTED, checking_many, findings, kinds, own_patterns, redact
from storage.errors import PlanFileError
from storage.planfile import load_plan_file
from storage.repositories import PartnershipRepository
from tests.factories import load
from tests.test_planfile import minimal, write


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("NHS 401\u00a0023\u00a02137 on the referral", ["an NHS number"]),
        ("Health number 401 0232 137 sent to the GP", ["an NHS number"]),
        ("NHS 401\u2013023\u20132137 pasted from the minutes", ["an NHS number"]),
        ("DOB 03-04-2012, seen at clinic", ["a date of birth"]),
        ("Boy born 4th June 2016 not registered with a GP", ["a date of birth"]),
        ("A girl aged 11 was sent home from school", ["an age"]),
        ("Neighbours worried about a 4-year-old left alone", ["an age"]),
        ("Infant 3 months old admitted with a head injury", ["an age"]),
        ("Child D's mother Leanne Holt declined the assessment", ["a name"]),
        ("Grandfather Mr Brennan refused entry to the social worker", ["a name"]),
        ("Mia Carter in Year 5 at Rosehill Primary has not attended since half term", ["a name"]),
        ("Children moved to 27 Sherwood Rise with their aunt", ["an address"]),
        ("Spoke to Jack Smith at 4 Juniper Close about the eviction notice", ["a name", "an address"]),
        ("Living with nan at NG9 4AB", ["a postcode"]),
        ("Mum's number is 7700 900 552", ["a phone number"]),
        ("Text dad on 07700.900.112", ["a phone number"]),
        ("Dad wrote from gary.holt at outlook dot com", ["an email address"]),
        ("Carer's email is d.holt@hotmail.co.uk", ["an email address"]),
        ("Plan CP/2023/1187 reviewed late", ["a case reference"]),
        ("Mosaic ID 4410982 in the sample", ["a case reference"]),
        ("Benefit form shows NI number KM 12 34 56 B", ["a National Insurance number"]),
        ("Mum Kelly Barnes (DOB 01/02/1990) at 5 Elm Grove, NG5 1AB, 07912 345678", None),
    ],
)
def test_each_kind_of_identifying_detail_is_found(note: str, expected: list[str] | None) -> None:
    everything = [
        "a date of birth",
        "a name",
        "an address",
        "a postcode",
        "a phone number",
    ]
    assert kinds(note) == (expected if expected is not None else everything)


@pytest.mark.parametrize(
    "note",
    [
        "Report due 30/11/2026; BMG on 03-12-2026",
        "Training on 14.05.2026 and 21.05.2026, both full",
        "PO 4010232137 raised for the venue",
        "FOI 4010232137 answered in time",
        "Invoice 0115 2034 889 paid",
        "Meeting in Room F14; KS4 2nd cohort and Q2 3rd quarter figures",
        "NSPCC helpline 0808 800 5000 on the leaflet; Childline 0800 1111",
        "Referrals to mash@nottinghamcity.gov.uk or the MASH on 0115 876 4800",
        "Chair: Priya Shah. Sarah Jones (DSL, Oakfield Academy) presented",
        "Spoke to Jack Smith about the audit; training held at 4 Acacia Avenue offices",
        "Workshops for young people aged 13-17; a 5-year plan; 16-18 year olds consulted",
        "Data is 3 months old and will be refreshed",
        "78% of CP plans reviewed in timescale, 412 plans at year end",
    ],
)
def test_what_only_looks_like_an_identifying_detail_is_not_flagged(note: str) -> None:
    assert kinds(note) == []


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Uncle Jamil took the children to Leeds", ["a name"]),
        ("Step-grandad Keith is the main carer now", ["a name"]),
        ("the Williams family were seen at home", ["a name"]),
        ("Neighbours reported the Browns to the police again", ["a name"]),
        ("Spoke to Mr Lewis about his daughter's bruising", ["a name"]),
        ("Visited Jade Cooper, the children's mother, at home", ["a name"]),
        ("Harry and Megan are at the same nursery", ["a name"]),
        ("Nan is worried about Tyler's weight", ["a name"]),
        ("Lacey-Jo (4) was not brought to the clinic", ["an age", "a name"]),
        ("Callum Price, 9", ["an age", "a name"]),
        ("School worried about a boy of twelve sleeping in class", ["an age"]),
        ("The siblings (aged four) were seen", ["an age"]),
        ("The baby's RiO number was 4410982, sent to the wrong team", ["a case reference"]),
        ("NHS no 400 000 0001 (check digit wrong) on the form", ["an NHS number"]),
        ("Dad's NI number QQ 12 34 56 C on the benefit letter", ["a National Insurance number"]),
    ],
)
def test_families_kin_and_ages_as_notes_write_them(note: str, expected: list[str]) -> None:
    assert sorted(kinds(note)) == sorted(expected)


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Mr McKenzie shouted at the receptionist", ["a name"]),
        ("Ms O'Neill did not answer the door", ["a name"]),
        ("Ryan went missing from the unit again", ["a name"]),
        ("Courtney-Ann was not seen at nursery in May", ["a name"]),
        ("Toddler, now 2, not brought to the clinic", ["an age"]),
    ],
)
def test_titled_names_single_names_and_ages_in_apposition(note: str, expected: list[str]) -> None:
    assert kinds(note) == expected


@pytest.mark.parametrize(
    "note",
    [
        "Mrs Shah, headteacher, presented the attendance data",
        "Mr Lee (DSL) raised the exclusion figures",
        "Chase the school about the CP plans data",
        "Mark the missing children protocol as done",
        "Helen is the new lead for child exploitation",
        "Victoria Park school attendance data",
        "The Taylor Review recommendations on exclusion",
        "Family Hubs in Bulwell and Clifton for young people",
        "Foster carer recruitment for young people",
        "Ofsted report on Mrs Smith's school",
    ],
)
def test_roles_places_and_verbs_that_look_like_names_are_not_flagged(note: str) -> None:
    assert kinds(note) == []


@pytest.mark.parametrize(
    "note",
    [
        "Barnardo's service and the Samaritans presented at the forum",
        "the Nottingham children's hub opened in May",
        "Pilots in Ashfield and Newark with 12 schools",
        "Met with Mrs Smith, headteacher, about her pupils",
        "Phil Smith, 12 years a DSL, has left",
        "Sarah Jones, 14 schools visited",
        "Chair's report on CP plans",
        "the Early Help family support service",
        "Forum for parents of a child of 5 to 11 years",
    ],
)
def test_what_only_looks_like_a_family_or_an_age_is_not_flagged(note: str) -> None:
    assert kinds(note) == []


def test_a_professional_named_in_their_role_is_not_flagged_but_a_parent_is() -> None:
    assert kinds("Social worker Jane Smith visited the child at home") == []
    assert kinds("Jane Smith, the child's mother, was not at home") == ["a name"]


def test_redact_cuts_exactly_the_details_and_keeps_the_rest() -> None:
    note = "Mum Kelly Barnes rang from 07912 345678 about NHS 943 476 5919; audit due 30/11/2026."
    assert redact(note) == f"Mum {REDACTED} rang from {REDACTED} about NHS {REDACTED}; audit due 30/11/2026."
    assert (
        redact("Nothing identifying here, 45 of 60 audits done.") == "Nothing identifying here, 45 of 60 audits done."
    )


def test_offsets_point_at_the_characters_written_with_non_breaking_spaces_and_en_dashes() -> None:
    note = "Seen\u00a0today. NHS\u00a0943\u00a0476\u20135919 and DOB\u202f03\u201304\u20132012, ﬁle closed"
    spans = {f.kind: note[f.start : f.end] for f in findings(note)}
    assert spans == {"an NHS number": "943\u00a0476\u20135919", "a date of birth": "03\u201304\u20132012"}
    assert redact(note) == f"Seen\u00a0today. NHS\u00a0{REDACTED} and DOB\u202f{REDACTED}, ﬁle closed"


def test_the_warning_names_the_kinds_in_a_fixed_order() -> None:
    found = kinds("Postcode NG7 2RD, DOB 01/02/2015, aged 9")
    assert found == ["a date of birth", "an age", "a postcode"]
    assert "seems to contain a date of birth and an age and a postcode." in messages.sensitive_warning(found)


def test_the_partnerships_own_case_ids_from_its_plan_file(tmp_path: Path) -> None:
    data = minimal()
    data["partnership"]["privacy"] = {"case_id_patterns": [r"MOS-\d{6}", r"FW/\d{2}/\d{4}"]}
    plan = load_plan_file(write(tmp_path, data))
    own = own_patterns(plan.partnership.privacy.case_id_patterns)
    note = "Chronology for MOS\u2013123456 and FW/24/0031 incomplete"
    assert kinds(note) == [], "not a default pattern"
    assert kinds(note, own) == ["a case reference"]
    assert redact(note, own) == f"Chronology for {REDACTED} and {REDACTED} incomplete"


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"MOS-(\d{6}", "'MOS-(\\d{6}' is not a valid regular expression (missing ), unterminated subpattern"),
        (r"\d*", "'\\d*' matches empty text"),
    ],
)
def test_a_bad_pattern_is_refused_naming_the_place(tmp_path: Path, pattern: str, problem: str) -> None:
    data = minimal()
    data["partnership"]["privacy"] = {"case_id_patterns": [r"MOS-\d{6}", pattern]}
    with pytest.raises(PlanFileError) as refused:
        load_plan_file(write(tmp_path, data))
    assert "partnership > privacy > case_id_patterns[1]: " + problem in str(refused.value)


async def test_the_patterns_are_stored_on_the_partnership(session: AsyncSession, tmp_path: Path) -> None:
    data = minimal()
    data["partnership"]["privacy"] = {"case_id_patterns": [r"MOS-\d{6}"]}
    await load(session, load_plan_file(write(tmp_path, data)))
    partnership = await PartnershipRepository(session).by_short_name("TSCP")
    assert partnership.privacy_patterns == [r"MOS-\d{6}"]
    assert kinds("MOS-654321 stepped down", own_patterns(partnership.privacy_patterns)) == ["a case reference"]


def test_own_patterns_compile_to_what_findings_takes() -> None:
    assert own_patterns([r"MOS-\d{6}"]) == (re.compile(r"MOS-\d{6}"),)


def test_a_partnership_pattern_that_backtracks_for_ever_cannot_hang_the_check() -> None:
    import time

    catastrophic = own_patterns(["(a|aa)+$"])
    note = "Case " + "a" * 40 + "! reviewed at panel"
    started = time.monotonic()
    found = kinds(note, catastrophic)
    assert time.monotonic() - started < 10, "bounded (the pattern alone runs for minutes), not for ever"
    assert "a case reference" in found, "a note the pattern could not finish is treated as identifying"
    assert redact(note, catastrophic) == REDACTED, "and withheld whole on the way out"


def test_a_checked_note_leaves_none_of_its_words_in_the_process() -> None:
    """spaCy keeps every word it has tokenised for the life of the process unless told otherwise: a
    child's name would stay in the server's memory, and the memory would grow with every new word."""
    from bot.privacy.engine import blank

    words = blank().nlp.vocab.strings
    before = len(words)
    for n in range(200):
        assert kinds(f"Met Zebedee Quillfeather{n} and his mum at 12 Acacia Avenue, NE1 4ST")
    assert "Zebedee" not in words and "Quillfeather7" not in words and "Acacia" not in words
    assert len(words) == before


def test_notes_checked_together_find_what_each_alone_finds_and_leave_no_words_behind() -> None:
    """An import or an export checks its notes together, in one go: each note is found to hold what it
    holds when checked alone, and once the last is checked none of their words stays in the process."""
    from bot.privacy.engine import blank

    firsts = ["Yolanda", "Bartholomew", "Ottilie", "Ezekiel", "Marigold", "Thaddeus"]
    lasts = ["Brightwater", "Quillfeather", "Ashgrove", "Pemberton", "Winterbourne"]
    notes = [
        f"Met {first} {last} and her mum at {n} Juniper Close, NE2 {n % 9}QT; dob 0{n % 9 + 1}/03/2015"
        for n, (first, last) in enumerate((given, family) for given in firsts for family in lasts)
    ]
    notes += ["Training delivered to 40 staff", "Audit of the front door, no case named"]
    alone = [kinds(note) for note in notes]
    words = blank().nlp.vocab.strings
    before = len(words)
    with checking_many():
        together = [kinds(note) for note in notes]
    assert together == alone
    assert alone[0] == ["a date of birth", "a name", "an address", "a postcode"]
    assert alone[-1] == [] and alone[-2] == []
    assert not {*firsts, *lasts, "Juniper"} & {w for w in (*firsts, *lasts, "Juniper") if w in words}
    assert len(words) == before
