"""The canonical plan files: both seed plans transcribed faithfully, and bad files refused clearly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.rules import Due, Rag
from storage.errors import PlanFileError
from storage.planfile import PlanFile, load_plan_file


def action(plan: PlanFile, ref: str) -> Any:
    return next(a for o in plan.objectives for a in o.actions if a.ref == ref)


def test_the_ncscp_plan_has_its_printed_shape(ncscp: PlanFile) -> None:
    assert ncscp.partnership.short_name == "NCSCP"
    assert ncscp.plan.title == "Business Plan 2019-22"
    assert [p.number for p in ncscp.priorities] == [1, 2, 3]
    assert sorted(o.number for o in ncscp.objectives) == list(range(1, 14))
    per_objective = {o.number: len(o.actions) for o in ncscp.objectives}
    assert per_objective == {1: 1, 2: 3, 3: 2, 4: 3, 5: 3, 6: 1, 7: 3, 8: 1, 9: 1, 10: 2, 11: 3, 12: 2, 13: 5}


def test_ncscp_actions_match_the_seed_table(ncscp: PlanFile) -> None:
    first = action(ncscp, "2.1")
    assert first.description.startswith("Request a report from Vulnerable Children and Families Services")
    assert first.lead == "Children's QA subgroup"
    assert [(m.text, m.due) for m in first.measures] == [
        (
            "Quarterly EHA report received by Children's QA subgroup",
            [Due.month(2019, 6), Due.month(2019, 10), Due.month(2020, 2)],
        ),
        ("Children's QA subgroup report to BMG", [Due.month(2019, 6), Due.month(2019, 10), Due.month(2020, 2)]),
    ]
    whistle = action(ncscp, "3.1")
    assert whistle.lead == "NCSCB Strategic Partnership Members"
    assert whistle.measures[0].due == [Due.month(2019, 10)]
    scrutinise = action(ncscp, "4.2")
    assert [m.due for m in scrutinise.measures] == [[Due.month(2019, 10)], [Due.month(2019, 2)]], "Feb 2019 as printed"
    assert action(ncscp, "8.1").lead == "CDOP"
    assert action(ncscp, "12.1").lead == "Learning and improvement sub group"
    escalation = action(ncscp, "13.5")
    assert escalation.description == "Undertake further work with schools to embed the principles of escalation."
    assert escalation.lead == "Children's Board Officer"
    assert escalation.measures[0].text == "DSL Network to report to BMG"
    assert escalation.measures[0].due == [Due.month(2019, 7)]


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", w.lower()) for w in text.split()) if w]


def printed(text: str, seed: str) -> bool:
    """Whether `text` is the seed's own words: nearly all its four-word runs appear in the seed (a run
    may straddle a table cell that the extraction split across lines, so a few are allowed to miss)."""
    words = _words(re.sub(r"<sup>\d+</sup>|<[^>]+>", " ", seed))
    runs = {tuple(words[i : i + 4]) for i in range(len(words) - 3)}
    own = _words(text)
    if len(own) < 4:
        return " ".join(own) in " ".join(words)
    mine = [tuple(own[i : i + 4]) for i in range(len(own) - 3)]
    return sum(run in runs for run in mine) >= 0.8 * len(mine)


def test_ncscp_text_is_as_printed(ncscp: PlanFile, ncscp_seed: str) -> None:
    """Every objective, description, lead and measure is the seed's own wording; objective 9, which
    the extraction lost part of, is marked with "..." and excluded."""
    for objective in ncscp.objectives:
        if objective.number != 9:
            assert printed(objective.title, ncscp_seed), objective.number
        for item in objective.actions:
            if item.ref != "9.1":
                assert printed(item.description, ncscp_seed), item.ref
            assert item.lead is None or printed(item.lead, ncscp_seed), item.ref
            for measure in item.measures:
                assert printed(measure.text, ncscp_seed), (item.ref, measure.text)


def test_the_wording_check_catches_invented_text(ncscp_seed: str) -> None:
    assert not printed("Deliver a new partnership website for children and families by spring", ncscp_seed)


def test_nscp_plan_has_commitments_focus_areas_and_measures(nscp: PlanFile, nscp_seed: str) -> None:
    assert [p.number for p in nscp.priorities] == [1, 2, 3]
    assert nscp.priorities[0].title == "We will work together to keep young people safe in their homes and communities"
    assert len(nscp.objectives) == 11
    assert [len([o for o in nscp.objectives if o.priority == n]) for n in (1, 2, 3)] == [4, 4, 3]
    assert sum(len(o.actions) for o in nscp.objectives) == 26
    care = action(nscp, "1.1")
    assert care.description.startswith("A new Child at Risk of Exploitation (CARE) team will have been created")
    for objective in nscp.objectives:
        for item in objective.actions:
            assert printed(item.description, nscp_seed), item.ref
            assert item.lead, f"{item.ref} has a (demo) lead"
            assert item.measures, f"{item.ref} has a measure"
            assert item.measures[0].due, f"{item.ref} has (demo) dates"


def write(tmp_path: Path, data: Any, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def minimal() -> dict[str, Any]:
    return {
        "partnership": {"name": "Test Partnership", "short_name": "TSCP"},
        "plan": {"title": "Plan 2024-26"},
        "people": [{"name": "Ann Lee", "email": "ann@example.org", "role": "lead"}],
        "subgroups": [{"name": "Quality Assurance subgroup", "aliases": ["QA"], "chair": "ann@example.org"}],
        "objectives": [
            {
                "number": 1,
                "title": "Thresholds are applied",
                "actions": [
                    {
                        "ref": "1.1",
                        "description": "Audit thresholds",
                        "lead": "QA",
                        "measures": [{"text": "Report to BMG", "due": ["2024-06"]}],
                        "updates": [
                            {
                                "at": "2024-05-01T10:00:00+01:00",
                                "rag": "amber",
                                "comment": "Started",
                                "by": "ann@example.org",
                            }
                        ],
                    }
                ],
            }
        ],
        "meetings": ["2024-07-10"],
    }


def test_a_minimal_plan_file_loads(tmp_path: Path) -> None:
    plan = load_plan_file(write(tmp_path, minimal()))
    assert plan.objectives[0].actions[0].updates[0].rag is Rag.AMBER


def broken(change: str) -> dict[str, Any]:
    data = minimal()
    first = data["objectives"][0]["actions"][0]
    match change:
        case "lead":
            first["lead"] = "Nonexistent group"
        case "due":
            first["measures"][0]["due"] = ["Juen 2024"]
        case "rag":
            first["updates"][0]["rag"] = "purple"
        case "typo":
            first["descripton"] = first.pop("description")
        case "ref":
            first["ref"] = "2.1"
        case "comment":
            first["updates"][0]["comment"] = "x" * 2001
        case "naive":
            first["updates"][0]["at"] = "2024-05-01T10:00:00"
        case "author":
            first["updates"][0]["by"] = "nobody@example.org"
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("lead", "action 1.1: lead 'Nonexistent group' is neither a sub-group (name or alias) nor a person"),
        (
            "due",
            "objectives[0] (number 1) > actions[0] (ref 1.1) > measures[0] > due[0]: "
            "'Juen' in 'Juen 2024' is not a month",
        ),
        ("rag", "updates[0] > rag: 'purple' is not a RAG rating"),
        ("typo", "actions[0] (ref 1.1) > descripton: Extra inputs are not permitted"),
        ("ref", "action 2.1 is listed under objective 1"),
        ("comment", "updates[0] > comment: String should have at most 2000 characters"),
        ("naive", "updates[0] > at: give the time with its offset"),
        ("author", "action 1.1: update by nobody@example.org, who is not in people"),
    ],
)
def test_a_bad_plan_file_names_the_file_the_place_and_the_problem(tmp_path: Path, change: str, message: str) -> None:
    path = write(tmp_path, broken(change))
    with pytest.raises(PlanFileError) as caught:
        load_plan_file(path)
    assert str(caught.value).startswith(f"{path}: the plan file has")
    assert message in str(caught.value)


def test_yaml_that_does_not_parse_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "partnership:\n  name: [unclosed\nplan: {}\n")
    with pytest.raises(PlanFileError, match=r"plan.yaml: line \d+, column \d+: not valid YAML"):
        load_plan_file(path)


@pytest.mark.parametrize("content", ["just words", "- a list\n- of things\n", ""])
def test_a_file_that_is_not_a_plan(tmp_path: Path, content: str) -> None:
    with pytest.raises(PlanFileError, match="a plan file is a YAML mapping"):
        load_plan_file(write(tmp_path, content))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="cannot be read"):
        load_plan_file(tmp_path / "nope.yaml")
