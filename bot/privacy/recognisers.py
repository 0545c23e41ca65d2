"""Recognisers for what the library's own do not cover, or cover too loosely for these notes.

Each is a Presidio EntityRecognizer over the plain text (normalise.py): a pattern for the detail
and, where the detail alone is ambiguous, the words around it (rules.py) that decide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator

import phonenumbers
from nhs_number.validate import is_valid
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import NhsRecognizer, PhoneRecognizer

from bot.privacy import rules
from bot.privacy.names import names

Accept = Callable[[str, int, int], bool]


def before(text: str, start: int, width: int = 40) -> str:
    return text[max(0, start - width) : start]


def after(text: str, end: int, width: int = 40) -> str:
    return text[end : end + width]


def sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence (or clause after a semicolon) around text[start:end]."""
    head = max(text.rfind(mark, 0, start) for mark in (". ", "; ", "! ", "? ", "\n"))
    tails = [i for i in (text.find(mark, end) for mark in (". ", "; ", "! ", "? ", "\n")) if i >= 0]
    return head + 1, min(tails, default=len(text))


class Rule(EntityRecognizer):
    """Patterns for one entity; a named group `v` is the detail (the rest is the words that say so)."""

    def __init__(self, entity: str, patterns: list[str], accept: Accept | None = None, score: float = 0.85) -> None:
        self.patterns = [re.compile(p) for p in patterns]
        self.accept = accept
        self.score = score
        super().__init__(supported_entities=[entity], name=f"{entity.lower()}_rule", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out = []
        for pattern in self.patterns:
            for m in pattern.finditer(text):
                start, end = m.span("v") if "v" in pattern.groupindex and m.group("v") else m.span()
                if self.accept is None or self.accept(text, start, end):
                    out.append(RecognizerResult(self.supported_entities[0], start, end, self.score))
        return out


def not_paperwork(text: str, start: int, end: int) -> bool:
    return not rules.PAPERWORK.search(before(text, start, 30))


# NHS numbers: Presidio's recogniser with the groupings people paste (3-3-4, 3-4-3, ten together),
# checked by the nhs-number package; a number written as a PO, FOI or invoice number is not one.
class Nhs(NhsRecognizer):
    def __init__(self) -> None:
        from presidio_analyzer import Pattern

        super().__init__(
            patterns=[
                Pattern("NHS 3-3-4", r"(?<![\d/.-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d/-]|\.\d)", 0.5),
                Pattern("NHS 3-4-3", r"(?<![\d/.-])\d{3}[ -]\d{4}[ -]\d{3}(?![\d/-]|\.\d)", 0.5),
            ]
        )

    def validate_result(self, pattern_text: str) -> bool:
        return bool(is_valid(re.sub(r"\D", "", pattern_text)))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        found = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in found if "nhs" in before(text, r.start).lower() or not_paperwork(text, r.start, r.end)]


# A number written as an NHS number is one even if its check digit is wrong (a slip of the keyboard
# still identifies a child); ten digits in any of the groupings above, after the words that say so.
def nhs_as_written() -> Rule:
    return Rule(
        "UK_NHS",
        [r"(?i:\bnhs\s*(?:no\.?|number|num|#)?\s*(?:is|was|:)?\s*)(?P<v>\d{3}[ -]?\d{3,4}[ -]?\d{3,4})(?![\d/-]|\.\d)"],
        lambda text, start, end: len(re.sub(r"\D", "", text[start:end])) == 10,
    )


# A National Insurance number after the words that say so, whatever its letters (Presidio's
# recogniser rightly refuses prefixes HMRC never issues, such as QQ, but a number written as one
# is still a person's).
def ni_as_written() -> Rule:
    return Rule(
        "UK_NINO",
        [
            r"(?i:\b(?:ni|nino|n\.i\.|national insurance)\s*(?:no\.?|number|num|#)?\s*(?:is|was|as|:)?\s*)"
            r"(?P<v>[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Da-d])\b"
        ],
    )


# Phone numbers: Presidio's (libphonenumber, valid GB numbers) and the UK shapes libphonenumber
# rejects (Ofcom's drama ranges, a mobile written without its 0); not a helpline, a service's line
# or an invoice number.
MOBILE = (
    r"(?<![\d+])(?:(?:\+44\s?\(?0?\)?\s?|0)7\d{3}|7\d{3}(?=[ .-]\d{3}[ .-]\d{3}(?!\d)))[ .-]?\d{3}[ .-]?\d{3,4}(?![\d])"
)
LANDLINE = r"(?<![\d+])(?:\+44\s?\(?0?\)?\s?|0)(?:1\d{3}[ .-]?\d{5,6}|1\d{3}[ .-]?\d{3}[ .-]?\d{3}|1\d{2}[ .-]?\d{3}[ .-]?\d{4}|2\d[ .-]?\d{4}[ .-]?\d{4})(?!\d)"
SERVICE_TYPES = {
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.UAN,
}


def personal_line(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    if not not_paperwork(text, start, end):
        return False
    try:
        number = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    if kind in SERVICE_TYPES or re.match(r"(?:\+44\s?\(?0?\)?\s?|0)(?:3|80|84|87|9)", raw):
        return False
    mobile = kind in {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.PAGER} or re.match(
        r"(?:\+44\s?\(?0?\)?\s?|0)?7", raw
    )
    # A landline named as a service line before or after it ("MASH consultation line") is not a person's.
    return bool(mobile) or not (
        rules.SERVICE.search(before(text, start, 60)) or SERVICE_AFTER.match(after(text, end, 60))
    )


class Phone(PhoneRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_regions=("GB",), leniency=1)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        assert nlp_artifacts is not None, "the analyzer always passes the tokens"
        found = super().analyze(text, entities, nlp_artifacts)
        return [r for r in found if personal_line(text, r.start, r.end)]


def phone_shapes() -> Rule:
    return Rule("PHONE_NUMBER", [MOBILE, LANDLINE], personal_line)


# Dates of birth: a date (or a year) after the words that say it is one, or in brackets after a child.
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:19|20)?\d{{2}}|(?:19|20)\d{{2}}-\d{{1,2}}-\d{{1,2}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s+(?:19|20)\d{{2}}|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}})"
)
DOB_CUE = (
    r"(?i:\b(?:d\.?o\.?b\.?|date of birth|birth date|born(?: on| in)?|birthday|b\.)\s*(?:is|was|of|on|as|:|-)?\s*)"
)
CHILD_BRACKET = r"(?i:\b(?:child(?: [A-Z])?|young person|baby|sibling|son|daughter|yp|infant|twin|boy|girl)(?:\s+[A-Z][a-z]+)?\s*[(,]\s*)"


def date_of_birth() -> Rule:
    return Rule(
        "DATE_OF_BIRTH",
        [
            rf"{DOB_CUE}(?P<v>{DATE}|(?:19|20)\d{{2}}\b|{MONTH}\s+(?:19|20)\d{{2}})",
            rf"{CHILD_BRACKET}(?:d\.?o\.?b\.?\s*)?(?P<v>{DATE})",
        ],
    )


# Ages: "aged 11", "a 4-year-old", "3 months old", "11yo"; not a range of ages (a cohort) or "a 5-year plan".
NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)"
)
UNIT = r"(?:years?|yrs?|months?|mths?|weeks?|wks?|days?)"
AGE_NOUNS = r"girl|boy|child|young person|baby|teenager|toddler|son|daughter|lad|youngster"


def age() -> Rule:
    return Rule(
        "AGE",
        [
            rf"(?i:\baged?\s+(?P<v>(?:\d{{1,2}}|{NUMBER_WORD})(?:\s*{UNIT})?(?:\s*old)?)\b"
            rf"(?!\s*(?:-|to|and|or|\+)\s*(?:\d|{NUMBER_WORD})|\s*\+|\s*and (?:over|under)))",
            # "a girl of 14", "the boy of twelve"
            rf"(?i:\b(?:a|the)\s+(?:{AGE_NOUNS})\s+of\s+(?P<v>\d{{1,2}}|{NUMBER_WORD})\b(?!\s*(?:-|to|and|or)\s*\d|%))",
            rf"(?i:\b(?P<v>(?:\d{{1,2}}|{NUMBER_WORD})[- ]?{UNIT}[- ]old)\b(?!s))",
            r"(?i:\b(?P<v>\d{1,2}\s?(?:yo|y/o|y\.o\.))(?!\w))",
            rf"(?i:\b(?:child(?: [A-Z])?|young person|baby|sibling|son|daughter|yp|boy|girl)(?:\s+[A-Z][a-z]+)?\s*\(\s*(?P<v>\d{{1,2}}\s*(?:{UNIT}|m|y)?)\s*\))",
            # "girl, 13, sent ...", "young person, now 16, ..."
            r"(?i:\b(?:child|young person|baby|sibling|son|daughter|yp|boy|girl|twins?|toddler|teenager|infant|pupil)"
            r"\s*,\s*(?:now\s+|aged\s+)?"
            r"(?P<v>1?\d)\s*(?=[,;)]|\.?\s*$|\.\s))",
            # "Jayden Okoro, 15, seen by ...": a full name with an age after it
            r"\b[A-Z][a-z]+\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?,\s*(?P<v>1?\d)\s*(?=[,;)]|\.?\s*$|\.\s)",
        ],
        a_child_s,
    )


# "Oliver (6)", "Evie-Rose (2 months)", "brother Josh, 16, ...": a first name with an age beside it.
NAME_AGE = re.compile(
    rf"\b(?P<name>[A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?:\s*\(\s*(?P<v>\d{{1,2}}\s*(?:{UNIT}|m|y)?)\s*\)|"
    r",\s*(?P<w>1?\d)\s*(?=[,;)]|\.?\s*$|\.\s))"
)


class NamedAge(EntityRecognizer):
    """The age, and the first name it is given with: both identify a child."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["AGE", "PERSON"], name="named_age_rule", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        first = names().first
        out = []
        for m in NAME_AGE.finditer(text):
            if not listed(m.group("name"), first) or SAINT.search(text[: m.start()]):
                continue
            group = "v" if m.group("v") else "w"
            out.append(RecognizerResult("AGE", *m.span(group), 0.85))
            out.append(RecognizerResult("PERSON", *m.span("name"), 0.85))
        return out


def a_child_s(text: str, start: int, end: int) -> bool:
    """Not "16-18 year olds" (a cohort), nor "the data is 3 months old" (no child in the sentence)."""
    if re.match(r"-?\s*(?:year|month)s?-?\s*olds", after(text, end)):
        return False
    lo, hi = sentence(text, start, end)
    if re.search(r"(?i:\b(?:is|are|was|were|being|now)\s*$)", text[lo:start]):
        return bool(rules.CHILD_CONTEXT.search(text[lo:start] + " " + text[end:hi]))
    return True


# Addresses without a postcode: a house number and a street, a flat, or where someone lives.
STREET = (
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Cl|Drive|Dr|Way|Crescent|Cres|Court|Ct|Gardens|Gdns|Place|Pl|"
    r"Terrace|Grove|Walk|Rise|Hill|View|Row|Square|Sq|Mews|Parade|Croft|Fields|Meadows|Green|Park|Vale|Wharf|Yard)"
)
WORDS = r"(?:[A-Z][a-z']+\s+){1,3}"


def not_a_venue(text: str, start: int, end: int) -> bool:
    return not re.search(
        r"(?i:\b(?:held at|venue|meeting at|meet at|training at|offices? at|based at|room|hq)\W*$)",
        before(text, start, 25),
    ) and not re.match(r"(?i:\s*(?:offices?|hq|headquarters|hub|centre|building|suite))", after(text, end, 20))


def address() -> Rule:
    return Rule(
        "ADDRESS",
        [
            rf"\b(?P<v>\d{{1,4}}[A-Za-z]?,?\s+{WORDS}{STREET}\b\.?)",
            rf"(?i:\b(?:flat|apartment|apt)\.?)\s*\d+[A-Za-z]?,?\s+{WORDS}(?:House|Court|Tower|Lodge|Mansions|Heights|Point|Close|{STREET})\b",
            r"(?i:\b(?:flat|apartment|apt)\.?)\s*\d+[A-Za-z]?\b",
            rf"(?i:\b(?:lives?|living|moved|resides?|residing|staying|address|rehoused|home)\b[^.;]{{0,25}}?\b(?:at|on|in|to)\s+)"
            rf"(?P<v>(?:the\s+)?{WORDS}{STREET})\b",
        ],
        not_a_venue,
    )


# Postcodes: the full code with a real postcode area; not "KS4 2nd", "Q2 3rd" or a room number.
AREAS = (
    "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH EN EX "
    "FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE "
    "NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ "
    "TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE"
).split()
POSTCODE = rf"\b(?:{'|'.join(sorted(AREAS, key=len, reverse=True))})\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{{2}}\b"


def postcode() -> Rule:
    return Rule("UK_POSTCODE", [POSTCODE])


# Email addresses, also as people write them to dodge filters ("jo at outlook dot com"); not a
# team's or a service's shared mailbox.
EMAIL = r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"
WRITTEN_OUT = (
    r"[\w.+'-]+\s*(?:\(at\)|\[at\]|\s+at\s+)\s*[\w-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[\w-]+)+(?!\w*@)"
)


def personal_mailbox(text: str, start: int, end: int) -> bool:
    raw = text[start:end].lower()
    local, _, domain = re.split(r"\s*(@|\(at\)|\[at\]|\s+at\s+)\s*", raw, maxsplit=1)
    if "@" not in raw and not re.search(r"\bdot\b|\(dot\)|\[dot\]|\.(?:com|co|org|net|uk|gov)\b", domain):
        return False
    if "@" not in raw and not re.search(r"\bdot\b|\(dot\)|\[dot\]", domain) and " at " in raw:
        return bool(re.search(r"\.(?:com|co\.uk|org|net|uk)$", domain)) and "." in local
    words = set(re.split(r"[._+'-]|\d+", local)) - {""}
    provider = re.split(r"\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*", domain)[0]
    return provider in rules.PERSONAL_DOMAINS or not (words & rules.FUNCTIONAL)


def email() -> Rule:
    return Rule("EMAIL_ADDRESS", [EMAIL, WRITTEN_OUT], personal_mailbox)


# Case references: CP-plan and similar references, and numbers in a case system ("Mosaic 1234567").
SYSTEMS = (
    r"mosaic|lcs|liquid ?logic|eclipse|ehm|carefirst|care first|protocol|rio|systmone|emis|azeus|capita one|"
    r"one|framework-?i|case|person|child|client|referral|contact|episode"
)


def case_reference() -> Rule:
    return Rule(
        "CASE_REFERENCE",
        [
            r"\b(?:CP|CPP|CIN|LAC|CLA|CiC|CIC|EH|EHA|PLO|S47|ICPC|RCPC|CSPR|MARAC)[/-](?:19|20)\d{2}[/-]\d{3,6}\b",
            rf"(?i:\b(?:{SYSTEMS})\s*(?:id|no\.?|number|ref(?:erence)?|#)?\s*[:.]?\s*(?:(?:is|was)\s+)?)(?P<v>[A-Z]{{0,3}}-?\d{{5,10}})\b",
        ],
    )


# Names of children and family members: a name after a family word ("father Mark Hughes"), a full
# name in a sentence about a child or family, a first name beside a school or a year group; never
# a professional named in their role ("Chair: Priya Shah", "Sarah Jones (DSL)").
NOT_NAMES = frozenset(
    """January February March April May June July August September October November December Monday
    Tuesday Wednesday Thursday Friday Saturday Sunday Red Amber Green Blue Black White Will St Saint
    Police Health Education Children Child Social Care Services Service Council Board Partnership Team Early
    Help Family Families Hub Young People Person School Academy Primary Year Section Plan Chair Lead Priority
    Action Objective Sub Group Review Panel Audit Training Practice Learning Quality Assurance Safeguarding
    Trust Mental Neglect Exploitation Domestic Abuse Court Case Strategy Meeting Report Update Data Policy
    Workforce Development Front Door County City Hall House Street Road Head Deputy Virtual Designated Named
    Nurse Doctor Officer Manager Director Agency Agencies Local Authority North South East West Central Hope
    Faith Grace Joy Page Office Paper Minutes Sure Start Carer Carers Parent Parents Mother Father Baby Boy
    Girl Sister Brother New Dear Hi Thanks Please The A An And Not No Yes All Our Their His Her It This That
    Rapid Child's Looked After Leaving Care Forum Summit Conference Day Week Month Spring Summer Autumn Winter
    Christmas Easter Term Reception Nursery College Infant Junior High Bank Holiday Duty Out Hours Gold Silver
    Bronze Sky Rose Dawn Summer Storm Major Justice""".split()
)
CAP = r"(?:O'|Mc|Mac)?[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?![A-Za-z])"
TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Master)\.?\s+"
CHILD_WORDS = r"child|young person|yp|pupil|boy|girl|toddler|teenager|twin"
SERVICE_AFTER = re.compile(
    r"(?i:\W{0,3}\(?\s*(?:the\s+)?(?:mash|front door|duty|helpline|advice line|consultation line|switchboard|lado|"
    r"edt|emergency duty|out of hours|reception|main office)\b)"
)
SAINT = re.compile(r"\b(?:St\.?|Saint)\s*$")
WITH_AGE = re.compile(r",\s*1?\d\s*(?:[,;)]|\.?\s*$|\.\s)")


def listed(token: str, names: Container[str]) -> bool:
    """A name in the list, or a double name ("Ellie-Mae", "Smith-Jones") whose parts are."""
    token = re.sub(r"^(?:O'|Mc|Mac)(?=[A-Z])", "", token)  # "O'Connor", "McKenzie": the name after the prefix
    return token not in NOT_NAMES and (token in names or all(part in names for part in re.split(r"[-']", token)))


class Person(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="family_name_rule", supported_language="en")
        cue = rf"(?i:\b(?:{rules.FAMILY}|{CHILD_WORDS}))(?:'s|s)?"
        self.after_cue = re.compile(
            rf"{cue}(?:\s*[,:(-]\s*|\s+(?:is|was|named|called|known as)\s+|\s+)(?P<title>{TITLE})?"
            rf"(?P<v>{CAP}(?:\s+{CAP}){{0,2}})"
        )
        self.full = re.compile(rf"(?P<title>{TITLE})?(?P<v>\b{CAP}(?:\s+{CAP}){{0,2}})")
        self.homes = address()

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        known = names()
        schools = [m.span() for m in rules.SCHOOL.finditer(text)]
        homes = [(r.start, r.end) for r in self.homes.analyze(text, [])]
        found: list[tuple[int, int]] = []
        for m in self.after_cue.finditer(text):
            tokens = name_part(m.group("v").split(), known.every if m.group("title") else known.first)
            if tokens:
                found.append((m.start(), m.start("v") + len(" ".join(tokens))))
                found[-1] = (m.start("title") if m.group("title") else m.start("v"), found[-1][1])
        for m in self.capitalised(text):
            title = bool(m.group("title"))
            tokens = name_part(m.group("v").split(), known.every if title else known.first)
            start = m.start("title") if title else m.start("v")
            end = m.start("v") + len(" ".join(tokens))
            if not tokens or any(s <= start < e or s < end <= e for s, e in schools):
                continue
            if SAINT.search(text[:start]):  # "St Mary's Primary", "St Ann's Well Road": a place, not a person
                continue
            if len(tokens) >= 2 and WITH_AGE.match(text[end:]):  # "Jayden Okoro, 15, ..."
                found.append((start, end))
                continue
            lo, hi = sentence(text, start, end)
            context = text[lo:start] + " " + text[end:hi]
            near_school = any(s < end + 45 and e > start - 45 for s, e in schools if lo <= s and e <= hi)
            if INSTITUTION_AFTER.match(after(text, end, 30)):  # "Victoria Park school", "the Taylor Review"
                continue
            if title and named_in_role(text, start, end):
                continue
            # Someone met or spoken to at a home address is not there as a professional.
            at_home = len(tokens) >= 2 and any(lo <= s and e <= hi for s, e in homes)
            if not title and professional(text, start, end, kin=at_home or of_a_family(text, start, end)):
                continue
            if len(tokens) == 1 and not title and not near_school and not a_single_name(text, start, end):
                continue
            # A title and a name ("Mrs Begum") not named in a role is a family member: partnership
            # notes name professionals by their role; so is a full name in a sentence with a home
            # address ("Spoke to Jack Smith at 4 Juniper Close"). A first name alone needs a sentence
            # about a child.
            if title or near_school or at_home or rules.CHILD_CONTEXT.search(context):
                found.append((start, end))
        found += self.groups(text, known.last, known.first)
        return [RecognizerResult("PERSON", s, e, 0.85) for s, e in found]

    def capitalised(self, text: str) -> Iterator[re.Match[str]]:
        """Each run of capitalised words; where a run does not begin with a name ("Visited Jade
        Cooper", "Home visit: Liam"), the rest of the run is tried too."""
        at = 0
        while (m := self.full.search(text, at)) is not None:
            yield m
            first = m.group("v").split()[0]
            title = bool(m.group("title"))
            begins = listed(first, names().every if title else names().first)
            at = m.end() if begins or " " not in m.group("v") else m.start("v") + len(first)

    def groups(self, text: str, last: frozenset[str], first: frozenset[str]) -> list[tuple[int, int]]:
        """Families and children named without a full name: "the Wilsons", "the Ahmed family",
        "Amelia and Noah" or "Mason's" in a sentence about a child or family."""
        found = []
        for m in FAMILY_NAME.finditer(text):
            surname = m.group("v")
            plural = m.group("plural") is not None
            base = surname[:-1] if plural else surname
            if listed(base, last) and not SERVICE_NOUN.match(after(text, m.end(), 25)):
                found.append(m.span("v"))
        for m in PAIR.finditer(text):
            if (
                given(m.group("a"), first)
                and given(m.group("b"), first)
                and about_a_child(text, *m.span())
                and not INSTITUTION_AFTER.match(after(text, m.end(), 30))
                and not PLACE_BEFORE.search(before(text, m.start(), 20))
            ):
                found.append(m.span())
        for m in POSSESSIVE.finditer(text):
            titled = re.search(rf"\b{TITLE}$", before(text, m.start(), 10))  # the full rule decides those
            if (
                given(m.group("v"), first)
                and not titled
                and not SAINT.search(text[: m.start()])
                and about_a_child(text, *m.span())
            ):
                found.append(m.span("v"))
        return found


def name_part(tokens: list[str], first: Container[str]) -> list[str]:
    """The leading tokens that are a name: a first name (or, after a title, any name), then surnames."""
    known = names()
    if not tokens or not listed(tokens[0], first):
        return []
    kept = [tokens[0]]
    for token in tokens[1:]:
        if not listed(token, known.last):
            break
        kept.append(token)
    return kept


# "the Wilsons", "the Ahmed family": a surname the lists know, for a family.
FAMILY_NAME = re.compile(
    rf"\b[Tt]he\s+(?P<v>{CAP})(?:(?P<plural>(?<=s))(?!\s+[A-Z])(?=\W|$)|"
    r"\s+(?:family|families|family's|children|kids|household|twins|siblings|boys|girls|brothers|sisters)\b)"
)
SERVICE_NOUN = re.compile(
    r"(?i:\s*(?:hubs?|services?|support|centres?|court|group|network|programme|help|workers?|partnership|team|'s\s+(?:hub|service|centre)))"
)
# "Amelia and Noah": two first names together.
PAIR = re.compile(rf"\b(?P<a>{CAP})\s+(?:and|&)\s+(?P<b>{CAP})\b")
# "Mason's weight", "Kacey-Leigh's attendance": a first name as the owner of something.
POSSESSIVE = re.compile(rf"\b(?P<v>{CAP})'s\b")
# A name followed by the family member it is ("Kelly Brown, mum of the twins", "Mr Patel, father"),
# or in a sentence about "her son", "his daughter".
KIN_AFTER = re.compile(
    rf"^(?i:\s*[,(-]?\s*(?:the\s+)?(?:(?:child|children|boy|girl|baby|yp)(?:'s|s')?\s+|maternal\s+|paternal\s+)?(?:{rules.FAMILY})\b)"
)
KIN_IN_SENTENCE = re.compile(rf"(?i:\b(?:her|his|their)\s+(?:{rules.FAMILY}|child|children|kids|twins)\b)")


KIN_WORD = re.compile(rf"(?i:(?:{rules.FAMILY}|{CHILD_WORDS}|kids?|children|twins))")


def given(token: str, first: frozenset[str]) -> bool:
    """A first name, and not a word for a family member that the lists also hold ("Mum", "Baby")."""
    return listed(token, first) and not KIN_WORD.fullmatch(token)


def about_a_child(text: str, start: int, end: int) -> bool:
    lo, hi = sentence(text, start, end)
    return bool(rules.CHILD_CONTEXT.search(text[lo:start] + " " + text[end:hi]))


def of_a_family(text: str, start: int, end: int) -> bool:
    _, hi = sentence(text, start, end)
    return bool(KIN_AFTER.match(after(text, end, 45)) or KIN_IN_SENTENCE.search(text[end:hi]))


def named_in_role(text: str, start: int, end: int) -> bool:
    """A titled name with its role beside it ("Mrs Shah, headteacher", "Chair: Mr Lee")."""
    return bool(
        rules.ROLE_WORD_BEFORE.search(before(text, start, 45)) or rules.ROLE_WORD_AFTER.match(after(text, end, 45))
    )


# A first name alone is a child's only where it stands as one: not a place ("in Clifton", "Bulwell
# and Clifton"), nor a word that only shares its spelling with a name ("Foster carer", "Young person").
PLACE_BEFORE = re.compile(r"(?i:\b(?:in|at|from|to|near|of|and|&|across|around|between|within|outside)\s*$|,\s*$)")
INSTITUTION_AFTER = re.compile(
    r"^(?i:(?:'s)?\s+(?:road|street|house|centre|council|school|academy|primary|college|nursery|city|county|"
    r"borough|area|ward|town|review|report|hubs?|services?|trust|hospital|practice|surgery|foundation|fund|"
    r"court|park|partnership|board|group|network|programme|project|model|framework|scale|tool)\b)"
)
VERB_BEFORE_NOUN = re.compile(r"^\s+(?:the|a|an|this|these|those|all|our|their|any|every|each|it|them|up|down|off)\b")
NOUN_AFTER = re.compile(
    rf"^(?i:\s+(?:{rules.FAMILY}|{CHILD_WORDS}|{rules.ROLE}|person|people|persons|parents|kids|children|"
    r"carers?|care|hubs?|services?|road|street|house|centre|council|school|academy|city|county|borough|area|ward|town)\b)"
)


def a_single_name(text: str, start: int, end: int) -> bool:
    return not (
        KIN_WORD.fullmatch(text[start:end])
        or text[start:end].endswith(("ing", "ed"))  # "Living with nan", "Visited": a verb first in a sentence
        or PLACE_BEFORE.search(before(text, start, 20))
        or NOUN_AFTER.match(after(text, end, 30))
        or VERB_BEFORE_NOUN.match(after(text, end, 10))  # "Chase the school", "Mark the protocol"
        or re.match(r"\s+(?:and|&)\s+[A-Z]", after(text, end, 10))  # one of a pair: PAIR decides
    )


def professional(text: str, start: int, end: int, kin: bool = False) -> bool:
    """Named in a role ("Chair: Priya Shah", "Sarah Jones (DSL)"), or as someone met or written to;
    but someone met who is then named as a family member ("met Mrs Khan about her son") is not."""
    role_before = rules.ROLE_BEFORE.search(before(text, start, 45))
    if kin and role_before and not rules.ROLE_WORD_BEFORE.search(before(text, start, 45)):
        role_before = None
    return bool(role_before or rules.ROLE_AFTER.search(after(text, end, 45)))
