"""Conditions a cue may need besides its words, and the named readings rules refer to. Pure.

The rule files name these (``only_if`` and ``reading``); the logic that cannot be written
as a pattern lives here: durations against the clinic's thresholds, "happening to him
now", another sign reported in the same utterance, and a handful of named readings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from escalation.clinic import ClinicConfig, TriageThresholds
from escalation.triage.cues import Gate
from escalation.triage.readings import Temperature
from escalation.triage.utterance import Utterance, negated

Detector = Callable[[Utterance, ClinicConfig], str | None]
"""A reading that fires a rule on its own: the words that fire it, or None."""


def at_least_hours(threshold: str, unknown: bool) -> Gate:
    """True when the stated duration reaches the clinic threshold named ``threshold``
    (a field of ``TriageThresholds`` in hours), or none is stated and ``unknown``."""

    def gate(u: Utterance, t: TriageThresholds) -> bool:
        if u.hours is None:
            return unknown
        return u.hours >= float(getattr(t, threshold))

    return gate


def mentions(compiled: re.Pattern[str]) -> Gate:
    """True when the utterance also reports ``compiled`` (not negated, not hypothetical)."""

    def gate(u: Utterance, _: TriageThresholds) -> bool:
        for m in compiled.finditer(u.text):
            start = u.token_at(m.start())
            if not u.conditional[start] and not negated(u, start):
                return True
        return False

    return gate


def any_of(gates: Sequence[Gate]) -> Gate:
    return lambda u, t: any(gate(u, t) for gate in gates)


def all_of(gates: Sequence[Gate]) -> Gate:
    if len(gates) == 1:
        return gates[0]
    return lambda u, t: all(gate(u, t) for gate in gates)


_HISTORY = re.compile(
    r"\b(?:last year|years ago|year ago|months ago|once had|used to|in the past|back in"
    r"|when (?:i|he) was (?:young|younger|a child|a boy))\b"
)
_OTHER_PERSON = re.compile(
    r"\b(?:friend|friends|neighbour|neighbor|neighbours|brother|sister|colleague|mate|cousin"
    r"|uncle|aunt|auntie|nephew|niece|boss|grandson|granddaughter|brother in law|sister in law"
    r"|a man|someone|somebody|people|other men|a lot of men)\b"
)
_FIRST_PERSON = re.compile(r"\b(?:i|me|myself|we|us)\b")


def current(u: Utterance, _: TriageThresholds) -> bool:
    """Happening to him now: not a past illness, not someone else's."""
    if _HISTORY.search(u.text):
        return False
    return not (_OTHER_PERSON.search(u.text) and not _FIRST_PERSON.search(u.text))


# -- Named readings --------------------------------------------------------------------

_PERSISTING = re.compile(
    r"\b(?:still|for days|for a week|for weeks|weeks|will not go away|not going away"
    r"|not getting better|getting worse|worse|days now|for ages|keeps)\b"
)
_LONG_STANDING = re.compile(
    r"\b(?:always|for years|asthma|asthmatic|copd|emphysema|used to|before (?:the|my|his)"
    r" (?:operation|surgery|op)|hay fever)\b"
)
_CATHETER_IN = re.compile(
    r"\b(?:catheter|cath|foley|leg bag|night bag|catheter bag|drainage bag|bag)\b"
)
_IRON = re.compile(r"\b(?:iron|ferrous|bismuth|pepto|liquorice|beetroot)\b")


def burning_persists(u: Utterance, t: TriageThresholds) -> bool:
    """Burning that has lasted the clinic's ``burning_days``, or is said to persist."""
    if u.hours is not None and u.hours >= t.burning_days * 24:
        return True
    return bool(_PERSISTING.search(u.text))


def new_breathlessness(u: Utterance, _: TriageThresholds) -> bool:
    """Not breathlessness he has always had (asthma, COPD, "used to")."""
    return not _LONG_STANDING.search(u.text)


def not_iron(u: Utterance, _: TriageThresholds) -> bool:
    """Black stools not explained by iron tablets, bismuth or beetroot."""
    return not _IRON.search(u.text)


def _measured(u: Utterance) -> list[Temperature]:
    return [r for r in u.readings if not u.conditional[r.index]]


def no_low_reading(u: Utterance, t: TriageThresholds) -> bool:
    """A reported temperature below the threshold outweighs feeling hot."""
    measured = [r for r in _measured(u) if not r.comparator]
    return not measured or any(r.celsius >= t.fever_celsius for r in measured)


_RED_URINE_LASTED = at_least_hours("bleeding_urine_hours", True)


def red_urine(u: Utterance, t: TriageThresholds) -> bool:
    """Red urine: at once while the catheter is in; otherwise once it outlasts the threshold."""
    if _CATHETER_IN.search(u.text):
        return True
    return _RED_URINE_LASTED(u, t)


def measured_fever(u: Utterance, clinic: ClinicConfig) -> str | None:
    """A measured temperature at or above the clinic's fever threshold."""
    if u.question and not u.reported:
        return None
    for reading in _measured(u):
        if reading.celsius >= clinic.triage.fever_celsius:
            return reading.phrase
    return None


READINGS: dict[str, Gate] = {
    "burning_persists": burning_persists,
    "new_breathlessness": new_breathlessness,
    "not_iron": not_iron,
    "no_low_reading": no_low_reading,
    "red_urine": red_urine,
}
"""Readings a cue's ``only_if`` may name."""

DETECTORS: dict[str, Detector] = {"measured_fever": measured_fever}
"""Readings a rule may name to fire on its own."""
