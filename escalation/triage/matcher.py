"""Matching: which rule an utterance fires, and what a rule id means as a red flag. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from escalation.clinic import ClinicConfig
from escalation.triage.cues import fires
from escalation.triage.rules import PRIORITY_ORDER, RULES, RedFlag, Rule
from escalation.triage.utterance import CLAUSE_END, Utterance, read_utterance


def _match(rule: Rule, u: Utterance, clinic: ClinicConfig) -> str | None:
    for cue in rule.cues:
        matched = fires(cue, u, clinic.triage)
        if matched:
            return matched
    if rule.detector is not None:
        return rule.detector(u, clinic)
    return None


def triage(
    text: str,
    clinic: ClinicConfig,
    rules: Sequence[Rule] = RULES,
    *,
    normalised: str | None = None,
) -> RedFlag | None:
    """The most severe red flag the utterance reports, or None (``rules``: the shipped ones).

    ``normalised``: ``normalise(text)`` when the turn already has it."""
    if not text or not text.strip():
        return None
    u = read_utterance(text, normalised)
    if not u.tokens:
        return None
    for rule in sorted(rules, key=lambda r: PRIORITY_ORDER[r.priority]):
        matched = _match(rule, u, clinic)
        if matched:
            return RedFlag(rule.id, rule.priority, rule.render(clinic), matched)
    return None


def flag_for_rule(rule_id: str, clinic: ClinicConfig, matched: str) -> RedFlag | None:
    """The red flag of the rule ``rule_id`` (its instruction and priority), if there is one.

    A rule id with two levels (``anticoagulant_bleeding``) takes the level whose own phrases
    match the words; otherwise the most severe.
    """
    candidates = [rule for rule in RULES if rule.id == rule_id]
    if not candidates:
        return None
    chosen = candidates[0]
    if len(candidates) > 1 and matched.strip():
        u = read_utterance(matched)
        chosen = next((r for r in candidates if u.tokens and _match(r, u, clinic)), chosen)
    return RedFlag(chosen.id, chosen.priority, chosen.render(clinic), matched)


def rule_ids() -> frozenset[str]:
    return frozenset(rule.id for rule in RULES)


def reports_own_state(text: str) -> bool:
    """Whether the words tell of something happening to the speaker (or the man he speaks
    for), rather than ask in general or suppose ("if I get a fever ...")."""
    u = read_utterance(text)
    if not u.tokens:
        return False
    words = [k for k, tok in enumerate(u.tokens) if tok not in CLAUSE_END]
    if not words:
        return False
    supposed = sum(1 for k in words if u.conditional[k]) / len(words)
    if supposed >= 0.5:
        return False
    return not (u.question and not u.reported)
