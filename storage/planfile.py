"""The canonical plan file (YAML), validated by pydantic.

A plan file holds one partnership's plan: its sub-groups and people, priorities, numbered
objectives and their actions with leads, success measures and milestone dates, BMG meeting dates,
and optionally a history of progress updates. Errors name the file and the place in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner, ScannerError

from bot.rules import Due, Rag, parse_due
from storage.errors import PlanFileError
from storage.models import Role

COMMENT_LIMIT = 2000
# What a plan file may be, checked before the work they bound is done. The demo plans are 34 KB, about
# 1,300 values and 9 levels deep; a council-wide plan of 3,000 actions, 2,000 people and two years of
# updates is 4.3 MB and about 260,000 values, and must still be read.
SIZE_LIMIT = 5 * 1024 * 1024  # bytes
DEPTH_LIMIT = 20  # levels of nesting (mappings and lists)
VALUE_LIMIT = 400_000  # values (keys, items, scalars) once YAML aliases are expanded, as validation sees them
SHOWN_PROBLEMS = 20  # problems listed in a refusal; the rest are counted
SHOWN_TEXT = 200  # characters of a problem's message
T = TypeVar("T")


def _due(value: Any) -> Due:
    if isinstance(value, Due):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return parse_due(value.isoformat())
    if isinstance(value, str):
        return parse_due(value)
    raise ValueError("a due date is written as 2019-06 (a month) or 2019-06-15 (a day)")


def _rag(value: Any) -> Rag:
    if isinstance(value, Rag):
        return value
    if isinstance(value, str):
        return Rag.parse(value)
    raise ValueError("a RAG rating is one of red, amber, green, blue")


def _text(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


DueValue = Annotated[Due, BeforeValidator(_due), PlainSerializer(lambda d: d.iso, return_type=str)]
RagValue = Annotated[Rag, BeforeValidator(_rag), PlainSerializer(lambda r: r.value, return_type=str)]
Text = Annotated[str, BeforeValidator(_text), Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{value}' is not a valid regular expression ({exc}); e.g. MOS-\\d{{6}}") from None
    except (RecursionError, OverflowError):
        raise ValueError("the regular expression is nested too deeply or too long to use") from None
    if re.fullmatch(value, ""):
        raise ValueError(f"'{value}' matches empty text, so it would find a case reference everywhere")
    return value


class PrivacySpec(Strict):
    """The partnership's own identifiers, on top of the ones every partnership has (CP-plan references,
    NHS and NI numbers...): e.g. its case system's ids, `case_id_patterns: ["MOS-\\d{6}"]`."""

    case_id_patterns: list[Annotated[str, AfterValidator(_regex)]] = []


class PartnershipSpec(Strict):
    name: Text
    short_name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")]
    tenant_id: str | None = None
    timezone: str = "Europe/London"
    privacy: PrivacySpec = PrivacySpec()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"'{value}' is not a timezone name such as Europe/London") from None
        return value


class PlanSpec(Strict):
    title: Text
    starts: date | None = None
    ends: date | None = None


class PersonSpec(Strict):
    name: Text
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    job_title: Text | None = None
    role: Role = Role.MEMBER
    aad_object_id: str | None = None


class SubGroupSpec(Strict):
    name: Text
    aliases: list[Text] = []
    chair: str | None = None
    members: list[str] = []


class PrioritySpec(Strict):
    number: Annotated[int, Field(ge=1)]
    title: Text


class MeasureSpec(Strict):
    text: Text
    due: list[DueValue] = []


class UpdateSpec(Strict):
    at: datetime
    rag: RagValue
    comment: Annotated[str, Field(max_length=COMMENT_LIMIT)] = ""
    by: str | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. 2019-06-20T10:30:00+01:00")
        return value


class ActionSpec(Strict):
    ref: Annotated[str, Field(pattern=r"^\d+\.\d+$")]
    description: Text
    lead: Text | None = None
    reporting_body: str | None = None
    measures: list[MeasureSpec] = []
    updates: list[UpdateSpec] = []

    @property
    def success_measure(self) -> str:
        return "\n".join(m.text for m in self.measures)


class ObjectiveSpec(Strict):
    number: Annotated[int, Field(ge=1)]
    priority: int | None = None
    title: Text
    actions: list[ActionSpec] = []

    @model_validator(mode="after")
    def _refs_belong(self) -> ObjectiveSpec:
        for action in self.actions:
            if action.ref.split(".")[0] != str(self.number):
                raise ValueError(f"action {action.ref} is listed under objective {self.number}")
        return self


class PlanFile(Strict):
    """A whole plan file. Cross-references (leads, chairs, authors, priorities) are checked here."""

    notes: str | None = None
    partnership: PartnershipSpec
    plan: PlanSpec
    people: list[PersonSpec] = []
    subgroups: list[SubGroupSpec] = []
    priorities: list[PrioritySpec] = []
    objectives: list[ObjectiveSpec] = []
    meetings: list[date] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> PlanFile:
        emails = {p.email.lower() for p in self.people if p.email}
        _unique("person email", [p.email.lower() for p in self.people if p.email])
        _unique("sub-group name", [s.name.lower() for s in self.subgroups])
        _unique("priority number", [p.number for p in self.priorities])
        _unique("objective number", [o.number for o in self.objectives])
        _unique("action ref", [a.ref for o in self.objectives for a in o.actions])
        _unique("meeting date", self.meetings)
        for group in self.subgroups:
            for who in [group.chair, *group.members]:
                if who and who.lower() not in emails:
                    raise ValueError(f"sub-group '{group.name}' names {who}, who is not in people")
        priorities = {p.number for p in self.priorities}
        leads = LeadIndex.from_specs(self.subgroups, self.people)
        for objective in self.objectives:
            if objective.priority is not None and objective.priority not in priorities:
                raise ValueError(
                    f"objective {objective.number} names priority {objective.priority}, which is not listed"
                )
            for action in objective.actions:
                if action.lead and leads.find(action.lead) is None:
                    raise ValueError(
                        f"action {action.ref}: lead '{action.lead}' is neither a sub-group (name or alias) "
                        "nor a person (name, job title or email)"
                    )
                for update in action.updates:
                    if update.by and update.by.lower() not in emails:
                        raise ValueError(f"action {action.ref}: update by {update.by}, who is not in people")
        return self


def _unique(what: str, values: list[Any]) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} '{value}' appears twice")
        seen.add(value)


class LeadIndex(Generic[T]):
    """Resolves a lead as printed ("Children's QA subgroup", "Partnerships manager") to a sub-group or a person.

    Matching ignores case, apostrophes, punctuation and the spelling of sub-group ("sub group",
    "sub-group"); it never guesses between two candidates.
    """

    def __init__(self) -> None:
        self._keys: dict[str, T] = {}

    @staticmethod
    def from_specs(subgroups: list[SubGroupSpec], people: list[PersonSpec]) -> LeadIndex[tuple[str, str]]:
        index: LeadIndex[tuple[str, str]] = LeadIndex()
        for group in subgroups:
            for name in [group.name, *group.aliases]:
                index.add(name, ("subgroup", group.name))
        for person in people:
            for label in (person.name, person.job_title, person.email):
                if label:
                    index.add(label, ("person", person.email or person.name))
        return index

    def add(self, name: str, target: T) -> None:
        self._keys.setdefault(lead_key(name), target)

    def find(self, lead: str) -> T | None:
        return self._keys.get(lead_key(lead))


def lead_key(name: str) -> str:
    text = name.lower().replace("’", "'").replace("'", "")
    text = re.sub(r"\bsub[\s-]+group\b", "subgroup", text)
    return " ".join(re.sub(r"[^a-z0-9@.]+", " ", text).split())


class _Refused(yaml.MarkedYAMLError):
    """A plan file this will not read although it may be valid YAML: too deep, too many values."""


DEEP = f"nested more than {DEPTH_LIMIT} levels deep; a plan file needs about 9"


class _Guards(Composer, SafeConstructor, Resolver):
    """PyYAML's safe loading with the limits a plan file needs, checked event by event while the document
    is composed, before any Python object is built: nesting deeper than DEPTH_LIMIT, and more than
    VALUE_LIMIT values once aliases are expanded (a "billion laughs": safe_load shares an aliased object,
    but validating the plan walks every copy). Values YAML cannot represent (2024-13-45, a 5,000-digit
    number) are errors with a place, not a ValueError from deep in the constructor."""

    def __init__(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._total = 0
        self._values: dict[int, int] = {}  # id(node) -> the values it stands for, aliases expanded

    if TYPE_CHECKING:  # from the parser each loader brings

        def peek_event(self) -> yaml.Event | None: ...

        def dispose(self) -> None: ...

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        mark: Any = event.start_mark if event else None  # yaml.Mark, or libyaml's own
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is not None:
                if id(target) not in self._values:
                    raise _Refused(None, None, f"the alias *{event.anchor} refers to itself", mark)
                self._add(self._values[id(target)], mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > DEPTH_LIMIT:
            raise _Refused(None, None, DEEP, mark)
        self._add(1, mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            self._values[id(node)] = 1 + sum(self._values[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._values[id(node)] = 1 + sum(self._values[id(k)] + self._values[id(v)] for k, v in node.value)
        elif node is not None:
            self._values[id(node)] = 1
        return node

    def _add(self, values: int, mark: Any) -> None:
        self._total += values
        if self._total > VALUE_LIMIT:
            raise _Refused(
                None,
                None,
                f"holds more than {VALUE_LIMIT:,} values (counting each use of an alias *name in full); "
                "a council-wide plan of 3,000 actions has about 260,000",
                mark,
            )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            text = str(node.value) if isinstance(node, yaml.ScalarNode) else node.tag
            raise ConstructorError(
                None, None, f"cannot read '{_clip(text, 40)}' ({_clip(str(exc), 80)})", node.start_mark
            ) from None


class _PureLoader(_Guards, Reader, Scanner, Parser):
    """The guards over PyYAML's own parser, where libyaml is missing. Its scanner looks ahead across every
    open flow collection, so a document of "[[[[..." costs time in the square of its depth: refused there."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Guards.__init__(self)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= DEPTH_LIMIT:
            raise _Refused(None, None, DEEP, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def scan_yaml_directive_number(self, start_mark: Any) -> int:
        """The version in "%YAML 1.1": a number of thousands of digits is a ValueError from `int`, not
        a YAML error, in PyYAML's own scanner."""
        try:
            return int(super().scan_yaml_directive_number(start_mark))
        except ValueError:
            raise ScannerError(
                "while scanning a directive", start_mark, "the YAML version number is far too long", self.get_mark()
            ) from None


# The loaders in the order they are preferred; the tests try each.
LOADERS: list[Callable[[str], _Guards]] = [_PureLoader]

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(_Guards, CParser):
        """The guards over libyaml's parser (C): events come one at a time, so a refusal is as quick as the
        problem is near the start."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Guards.__init__(self)

    LOADERS.insert(0, _FastLoader)


def _clip(text: str, limit: int = SHOWN_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_text(path: Path) -> str:
    """The file's text, refused unread beyond SIZE_LIMIT (reading at most one byte more, so a device or
    a file still growing cannot make this read on)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(SIZE_LIMIT + 1)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(data) > SIZE_LIMIT:
        raise PlanFileError(
            f"{path}: is larger than {SIZE_LIMIT // 1024 // 1024} MB; a plan file is a few tens of KB, "
            "so this is not one"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: is not a text file (UTF-8)") from None


def load_plan_file(path: Path, loader: Callable[[str], _Guards] | None = None) -> PlanFile:
    """Read and validate a plan file; every problem is a PlanFileError naming the file and place."""
    text = _read_text(path)
    reader: _Guards | None = None
    try:
        reader = (loader or LOADERS[0])(text)  # PyYAML's reader checks the characters here
        raw = reader.get_single_data()
    except _Refused as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise PlanFileError(f"{path}:{where} {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanFileError(f"{path}:{where}: not valid YAML: {_clip(problem)}") from None
    finally:
        if reader is not None:
            reader.dispose()
    if not isinstance(raw, dict):
        raise PlanFileError(f"{path}: a plan file is a YAML mapping with partnership, plan and objectives")
    return parse_plan(raw, str(path))


def parse_plan(raw: dict[str, Any], source: str) -> PlanFile:
    try:
        return PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise PlanFileError(_describe(exc, source, raw)) from None


def _describe(exc: ValidationError, source: str, raw: dict[str, Any]) -> str:
    count = exc.error_count()
    lines = [f"{source}: the plan file has {count} problem(s):"]
    for error in exc.errors(include_url=False, include_input=False)[:SHOWN_PROBLEMS]:
        place = _clip(_place(error["loc"], raw))
        message = _clip(error["msg"].removeprefix("Value error, "))
        lines.append(f"  - {place}: {message}" if place else f"  - {message}")
    if count > SHOWN_PROBLEMS:
        lines.append(f"  - and {count - SHOWN_PROBLEMS} more")
    return "\n".join(lines)


def _place(loc: tuple[int | str, ...], raw: Any) -> str:
    """A readable path such as objectives[4] (number 5) > actions[1] (ref 5.2) > measures[0] > due[1]."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            parts[-1] = f"{parts[-1]}[{key}]" if parts else f"[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict):
                for name in ("ref", "number", "name"):
                    if name in node:
                        parts[-1] += f" ({name} {node[name]})"
                        break
        else:
            if key.startswith(("function-", "model-")):
                continue
            parts.append(key)
            node = node.get(key) if isinstance(node, dict) else None
    return " > ".join(parts)
