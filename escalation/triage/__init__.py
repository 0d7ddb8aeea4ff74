"""Red-flag triage: fixed rules run on every patient utterance before retrieval. Pure.

Each rule pairs the ways people describe one danger sign (speech-recognition slips,
partners speaking, numbers said in words) with a fixed, clinician-approved instruction.
A phrasing counts only when the utterance reports it: not when it is negated ("no
fever"), inside a hypothetical ("what should I do if my catheter stops draining?"), or
part of a general question that says nothing about the speaker or the person they care
for ("can sex cause chest pain?"). The most severe matching rule wins.

The package, in the order a message goes through it:

- ``spelling`` and ``normalise``: the words as the rules read them;
- ``readings``: temperatures and durations said in the utterance;
- ``utterance``: question, supposition, report and negation;
- ``cues``: the pattern language of the rules and how one cue fires;
- ``conditions``: what a cue may also need (thresholds, "now", named readings);
- ``rules``: the rules, loaded from ``rules/*.yaml`` and ``vocabulary.yaml``;
- ``matcher``: the most severe rule an utterance fires.
"""

from __future__ import annotations

from escalation.triage.cues import Cue
from escalation.triage.matcher import flag_for_rule, reports_own_state, rule_ids, triage
from escalation.triage.normalise import normalise
from escalation.triage.rules import PRIORITY_ORDER, RULES, Priority, RedFlag, Rule, load_rules
from ingestion.text import count_word

__all__ = [
    "PRIORITY_ORDER",
    "RULES",
    "Cue",
    "Priority",
    "RedFlag",
    "Rule",
    "count_word",
    "flag_for_rule",
    "load_rules",
    "normalise",
    "reports_own_state",
    "rule_ids",
    "triage",
]
