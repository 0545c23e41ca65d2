"""The canonical plan file (YAML), validated by pydantic.

A plan file holds one partnership's plan: its sub-groups and people, priorities, numbered
objectives and their actions with leads, success measures and milestone dates, BMG meeting dates,
and optionally a history of progress updates. Errors name the file and the place in it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

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

from bot.rules import Due, Rag, parse_due
from storage.errors import PlanFileError
from storage.models import Role

COMMENT_LIMIT = 2000
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
        except (ZoneInfoNotFoundError, ValueError):
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


def load_plan_file(path: Path) -> PlanFile:
    """Read and validate a plan file; every problem is a PlanFileError naming the file and place."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: is not a text file (UTF-8)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanFileError(f"{path}:{where}: not valid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise PlanFileError(f"{path}: a plan file is a YAML mapping with partnership, plan and objectives")
    return parse_plan(raw, str(path))


def parse_plan(raw: dict[str, Any], source: str) -> PlanFile:
    try:
        return PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise PlanFileError(_describe(exc, source, raw)) from None


def _describe(exc: ValidationError, source: str, raw: dict[str, Any]) -> str:
    lines = [f"{source}: the plan file has {exc.error_count()} problem(s):"]
    for error in exc.errors():
        place = _place(error["loc"], raw)
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  - {place}: {message}" if place else f"  - {message}")
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
