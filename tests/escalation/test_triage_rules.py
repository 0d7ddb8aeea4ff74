"""The red-flag rule files: the shipped ones load, and each kind of mistake is named."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from escalation.clinic import ClinicConfig
from escalation.errors import TriageRulesError
from escalation.triage import RULES, load_rules, triage
from escalation.triage.rules import RULES_DIR, VOCABULARY_FILE

CLINIC = ClinicConfig()
URGENT_FILE = "2-urgent-catheter-urine-fever.yaml"


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    shutil.copy(VOCABULARY_FILE, tmp_path / "vocabulary.yaml")
    return target


def _edit(directory: Path, name: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
    path = directory / name
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(rules)
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")


def _load(directory: Path) -> None:
    load_rules(directory, directory.parent / "vocabulary.yaml")


def test_the_shipped_files_are_the_rules() -> None:
    assert [(r.id, r.priority) for r in load_rules()] == [(r.id, r.priority) for r in RULES]
    assert len(RULES) == 27 and all(r.cues for r in RULES)
    assert RULES[0].id == "collapse_or_fainting" and RULES[-1].id == "low_mood"


def test_an_unchanged_copy_loads_the_same_rules(rules_copy: Path) -> None:
    copied = load_rules(rules_copy, rules_copy.parent / "vocabulary.yaml")
    assert [(r.id, r.priority, r.instruction) for r in copied] == [
        (r.id, r.priority, r.instruction) for r in RULES
    ]
    assert [c.pattern.pattern for r in copied for c in r.cues] == [
        c.pattern.pattern for r in RULES for c in r.cues
    ]


def test_a_rule_added_to_the_files_fires(rules_copy: Path) -> None:
    def add(rules: list[dict[str, Any]]) -> None:
        rules.append(
            {
                "id": "hiccups_for_days",
                "priority": "urgent",
                "description": "Hiccups that will not stop.",
                "instruction": "Hiccups for days need checking. {{ clinic.urgency_urgent }}",
                "cues": [{"pattern": r"\bhiccups {gap 3}(?:for days|will not stop)\b"}],
            }
        )

    _edit(rules_copy, URGENT_FILE, add)
    rules = load_rules(rules_copy, rules_copy.parent / "vocabulary.yaml")
    flag = triage("I have had hiccups for days", CLINIC, rules)
    assert flag is not None and flag.rule == "hiccups_for_days" and flag.priority == "urgent"
    assert "01223 000 000" in flag.instruction and "{" not in flag.instruction
    assert triage("I have had hiccups for days", CLINIC) is None
    assert triage("I have not had hiccups for days", CLINIC, rules) is None


def test_an_unknown_field_is_named(rules_copy: Path) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules[0]["cues"][0].update(not_near="x"))
    with pytest.raises(TriageRulesError, match=r"'catheter_not_draining'.*cues\.0\.not_near"):
        _load(rules_copy)


def test_a_missing_instruction_is_named(rules_copy: Path) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules[1].pop("instruction"))
    with pytest.raises(
        TriageRulesError, match=r"'catheter_bypassing_with_pain'.*instruction: Field required"
    ):
        _load(rules_copy)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"\b{cathh} blocked\b", r"unknown vocabulary name \{cathh\}"),
        (r"\b{cath} {gap x} blocked\b", r"malformed placeholder '\{gap x\}'"),
        (r"\b(?:catheter blocked\b", r"not a valid pattern"),
    ],
)
def test_a_cue_that_cannot_be_read_is_named(rules_copy: Path, pattern: str, problem: str) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules[0]["cues"][1].update(pattern=pattern))
    with pytest.raises(
        TriageRulesError, match=rf"'catheter_not_draining': cues\[1\]\.pattern: {problem}"
    ):
        _load(rules_copy)


def test_a_bad_exclusion_is_named(rules_copy: Path) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules[0]["cues"][0].update(not_within="(x"))
    with pytest.raises(TriageRulesError, match=r"cues\[0\]\.not_within: not a valid pattern"):
        _load(rules_copy)


def test_an_unknown_placeholder_is_named(rules_copy: Path) -> None:
    def change(rules: list[dict[str, Any]]) -> None:
        rules[0]["instruction"] += " Or call {{ clinic.night_nurse_phone }}."

    _edit(rules_copy, URGENT_FILE, change)
    with pytest.raises(
        TriageRulesError, match=r"'catheter_not_draining'.*instruction.*'night_nurse_phone'"
    ):
        _load(rules_copy)


def test_a_single_brace_placeholder_is_refused(rules_copy: Path) -> None:
    def change(rules: list[dict[str, Any]]) -> None:
        rules[0]["instruction"] += " Or call {on_call_phone}."

    _edit(rules_copy, URGENT_FILE, change)
    with pytest.raises(TriageRulesError, match=r"instruction.*brace outside"):
        _load(rules_copy)


def test_an_instruction_below_its_priority_is_refused(rules_copy: Path) -> None:
    def change(rules: list[dict[str, Any]]) -> None:
        rules[0]["instruction"] = "Mention it. {{ clinic.urgency_routine }}"

    _edit(rules_copy, URGENT_FILE, change)
    with pytest.raises(TriageRulesError, match=r"'catheter_not_draining'.*'routine'.*'urgent'"):
        _load(rules_copy)


def test_an_unknown_threshold_is_named(rules_copy: Path) -> None:
    def change(rules: list[dict[str, Any]]) -> None:
        rules[3]["cues"][1]["only_if"]["lasted"]["threshold"] = "no_pee_hours"

    _edit(rules_copy, URGENT_FILE, change)
    with pytest.raises(TriageRulesError, match=r"'cannot_pass_urine'.*unknown clinic threshold"):
        _load(rules_copy)


def test_an_unknown_reading_is_named(rules_copy: Path) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules[5].update(reading="feels_hot"))
    with pytest.raises(TriageRulesError, match=r"'fever': reading: .*unknown reading 'feels_hot'"):
        _load(rules_copy)


def test_a_rule_twice_at_one_priority_is_refused(rules_copy: Path) -> None:
    _edit(rules_copy, URGENT_FILE, lambda rules: rules.append(dict(rules[0])))
    with pytest.raises(TriageRulesError, match=r"'catheter_not_draining' appears twice"):
        _load(rules_copy)


def test_vocabulary_entries_in_a_circle_are_refused(rules_copy: Path) -> None:
    vocabulary = rules_copy.parent / "vocabulary.yaml"
    vocabulary.write_text("cath: '(?:{bag}|tube)'\nbag: '(?:{cath}|bag)'\n", encoding="utf-8")
    with pytest.raises(TriageRulesError, match=r"vocabulary.yaml: .*circle"):
        _load(rules_copy)


def test_a_file_that_is_not_yaml_or_not_a_list_is_refused(rules_copy: Path) -> None:
    (rules_copy / URGENT_FILE).write_text("- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(TriageRulesError, match=r"not valid YAML"):
        _load(rules_copy)
    (rules_copy / URGENT_FILE).write_text("id: fever\n", encoding="utf-8")
    with pytest.raises(TriageRulesError, match=r"must be a list of rules"):
        _load(rules_copy)
