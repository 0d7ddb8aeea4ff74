"""The red-flag rules, read from the clinician-readable files beside this module.

``rules/*.yaml`` hold the rules (read in file-name order, each file a list) and
``vocabulary.yaml`` the phrasings they share; ``rules/README.md`` says how they read.
Both are loaded and validated once, at import: an unknown field, a missing instruction,
a cue that cannot be read, an unknown ``{{ clinic.* }}`` placeholder or an instruction
whose urgency does not match its priority raises ``TriageRulesError`` naming the file,
the rule and the field. ``RULES`` is the shipped table, most severe first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from escalation.clinic import URGENCY_PRIORITY, ClinicConfig, TriageThresholds, UrgencyLevel
from escalation.errors import TriageRulesError
from escalation.triage.conditions import (
    DETECTORS,
    READINGS,
    Detector,
    all_of,
    any_of,
    at_least_hours,
    current,
    mentions,
)
from escalation.triage.cues import Cue, CueSyntaxError, Gate, compile_pattern, expand_vocabulary

Priority = Literal["routine", "urgent", "emergency"]

PRIORITY_ORDER: dict[Priority, int] = {"emergency": 0, "urgent": 1, "routine": 2}

RULES_DIR = Path(__file__).with_name("rules")
VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")

_CLINIC_PLACEHOLDER = re.compile(r"\{\{\s*clinic\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_URGENCY = re.compile(r"\{urgency_(emergency|urgent|today|routine)\}")
_KNOWN_PLACEHOLDERS = frozenset(ClinicConfig().placeholders())


@dataclass(frozen=True)
class RedFlag:
    rule: str
    priority: Priority
    instruction: str
    """Fixed spoken instruction, plain text, with the clinic's numbers filled in."""
    matched: str
    """The words that triggered the rule, for coordinators; never spoken."""


@dataclass(frozen=True)
class Rule:
    id: str
    priority: Priority
    description: str
    instruction: str
    """Template filled from ``ClinicConfig.placeholders()`` (``{on_call_phone}``, ...)."""
    cues: tuple[Cue, ...]
    detector: Detector | None = None
    """Extra logic beyond phrases (temperatures said as numbers)."""

    def render(self, clinic: ClinicConfig) -> str:
        return self.instruction.format_map(clinic.placeholders())


# -- The file format ----------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LastedSpec(_Strict):
    threshold: str
    if_unsaid: bool

    @field_validator("threshold")
    @classmethod
    def _known_threshold(cls, name: str) -> str:
        if name not in TriageThresholds.model_fields:
            known = ", ".join(TriageThresholds.model_fields)
            raise ValueError(f"unknown clinic threshold {name!r} (known: {known})")
        return name


class OnlyIfSpec(_Strict):
    current: bool = False
    lasted: LastedSpec | None = None
    also_reports: list[str] = Field(default_factory=list)
    reading: str | None = None

    @field_validator("reading")
    @classmethod
    def _known_reading(cls, name: str | None) -> str | None:
        if name is not None and name not in READINGS:
            raise ValueError(f"unknown reading {name!r} (known: {', '.join(READINGS)})")
        return name


class CueSpec(_Strict):
    pattern: str = Field(min_length=1)
    in_questions: bool = False
    not_before: str | None = None
    not_after: str | None = None
    not_within: str | None = None
    only_if: OnlyIfSpec | None = None


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z]+(?:_[a-z]+)*$")
    priority: Priority
    description: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    cues: list[CueSpec] = Field(min_length=1)
    reading: str | None = None

    @field_validator("instruction")
    @classmethod
    def _placeholders(cls, text: str) -> str:
        unknown = sorted(set(_CLINIC_PLACEHOLDER.findall(text)) - _KNOWN_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown clinic placeholder(s) {unknown}; see the clinic file")
        leftover = re.search(r"[{}]", _CLINIC_PLACEHOLDER.sub("", text))
        if leftover:
            raise ValueError("a brace outside a {{ clinic.NAME }} placeholder")
        if not _URGENCY.search(_template(text)):
            raise ValueError("says how soon to act without {{ clinic.urgency_LEVEL }}")
        return text

    @field_validator("reading")
    @classmethod
    def _known_detector(cls, name: str | None) -> str | None:
        if name is not None and name not in DETECTORS:
            raise ValueError(f"unknown reading {name!r} (known: {', '.join(DETECTORS)})")
        return name


def _template(instruction: str) -> str:
    """The instruction as a ``str.format_map`` template over the clinic's placeholders."""
    return _CLINIC_PLACEHOLDER.sub(lambda m: "{" + m[1] + "}", " ".join(instruction.split()))


def _pattern_text(raw: str) -> str:
    """A pattern written over several lines is joined without spaces."""
    return "".join(line.strip() for line in raw.splitlines())


# -- Loading ------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TriageRulesError(f"triage rules file not found: {path}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TriageRulesError(f"triage rules file {path.name} is not valid YAML: {exc}") from exc


def load_vocabulary(path: Path = VOCABULARY_FILE) -> dict[str, str]:
    """The shared phrasings, each written out."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise TriageRulesError(f"{path.name} must map each name to one pattern")
    bad = [k for k in raw if not re.fullmatch(r"[a-z][a-z_]*", k) or k == "gap"]
    if bad:
        raise TriageRulesError(f"{path.name}: names must be lower-case words (not 'gap'): {bad}")
    try:
        return expand_vocabulary({k: _pattern_text(v) for k, v in raw.items()})
    except CueSyntaxError as exc:
        raise TriageRulesError(f"{path.name}: {exc}") from exc


def _gate(spec: OnlyIfSpec | None, vocabulary: Mapping[str, str], where: str) -> Gate | None:
    if spec is None:
        return None
    gates: list[Gate] = []
    if spec.current:
        gates.append(current)
    if spec.lasted is not None:
        gates.append(at_least_hours(spec.lasted.threshold, spec.lasted.if_unsaid))
    if spec.also_reports:
        reports: list[Gate] = []
        for k, raw in enumerate(spec.also_reports):
            compiled = _compiled(raw, vocabulary, f"{where}.only_if.also_reports[{k}]")
            reports.append(mentions(compiled))
        gates.append(reports[0] if len(reports) == 1 else any_of(reports))
    if spec.reading is not None:
        gates.append(READINGS[spec.reading])
    if not gates:
        raise TriageRulesError(f"{where}.only_if: names no condition")
    return all_of(gates)


def _compiled(raw: str, vocabulary: Mapping[str, str], where: str) -> re.Pattern[str]:
    try:
        return compile_pattern(_pattern_text(raw), vocabulary)
    except CueSyntaxError as exc:
        raise TriageRulesError(f"{where}: {exc}") from exc


def _optional(raw: str | None, vocabulary: Mapping[str, str], where: str) -> re.Pattern[str] | None:
    return None if raw is None else _compiled(raw, vocabulary, where)


def _rule(spec: RuleSpec, vocabulary: Mapping[str, str], where: str) -> Rule:
    cues: list[Cue] = []
    for k, cue in enumerate(spec.cues):
        at = f"{where}: cues[{k}]"
        cues.append(
            Cue(
                _compiled(cue.pattern, vocabulary, f"{at}.pattern"),
                cue.in_questions,
                _optional(cue.not_before, vocabulary, f"{at}.not_before"),
                _optional(cue.not_after, vocabulary, f"{at}.not_after"),
                _optional(cue.not_within, vocabulary, f"{at}.not_within"),
                _gate(cue.only_if, vocabulary, at),
            )
        )
    instruction = _template(spec.instruction)
    level = _URGENCY.search(instruction)
    raised = URGENCY_PRIORITY[cast(UrgencyLevel, level[1])] if level else spec.priority
    if raised != spec.priority:
        raise TriageRulesError(
            f"{where}: instruction: its first urgency level is raised as {raised!r},"
            f" not the rule's priority {spec.priority!r}"
        )
    detector = DETECTORS[spec.reading] if spec.reading else None
    return Rule(spec.id, spec.priority, spec.description, instruction, tuple(cues), detector)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'rule'}: {err['msg']}" for err in exc.errors()
    )


def _rules_in(path: Path, vocabulary: Mapping[str, str]) -> list[Rule]:
    raw = _read_yaml(path)
    if not isinstance(raw, list):
        raise TriageRulesError(f"{path.name} must be a list of rules")
    rules: list[Rule] = []
    for k, item in enumerate(raw):
        name = item.get("id") if isinstance(item, dict) else None
        where = f"{path.name} rule {name!r}" if name else f"{path.name} rule #{k + 1}"
        try:
            spec = RuleSpec.model_validate(item)
        except ValidationError as exc:
            raise TriageRulesError(f"{where}: {_problems(exc)}") from exc
        rules.append(_rule(spec, vocabulary, where))
    return rules


def load_rules(
    directory: Path = RULES_DIR, vocabulary_file: Path = VOCABULARY_FILE
) -> tuple[Rule, ...]:
    """Every rule in ``directory``, validated, most severe first (file order within a level)."""
    vocabulary = load_vocabulary(vocabulary_file)
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise TriageRulesError(f"no triage rules files (*.yaml) in {directory}")
    rules: list[Rule] = []
    for path in files:
        rules.extend(_rules_in(path, vocabulary))
    _check_unique(rules)
    return tuple(sorted(rules, key=lambda r: PRIORITY_ORDER[r.priority]))


def _check_unique(rules: Sequence[Rule]) -> None:
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if (rule.id, rule.priority) in seen:
            raise TriageRulesError(f"rule {rule.id!r} appears twice at priority {rule.priority!r}")
        seen.add((rule.id, rule.priority))


RULES: tuple[Rule, ...] = load_rules()
"""The shipped red-flag rules, most severe first."""
