"""Questions only a clinician can answer, whatever the documents say. Pure.

His own results ("my PSA went from 0.01 to 0.03"), his own records ("were my lymph nodes
clear?"), doses and prescriptions ("should I switch to 20 mg?"), and choices between
treatments are never answered from general guides: they go to a person.
"""

from __future__ import annotations

import re
from typing import Literal

from escalation.triage import normalise

ClinicianOnly = Literal["own_result", "own_record", "dose_or_prescription", "treatment_choice"]

_NUMBER = r"\d+(?:\.\d+)?"
_BARE_DECIMAL = re.compile(r"(^|[\s(])\.(\d)")
_NOT_A_RESULT = r"(?! ?(?:weeks?|months?|years?|days?|hours?|times?|am|pm)\b)"
_WHOSE = r"(?:my|his|the|(?:dad|dads|father|fathers|husband|husbands|partner|partners)(?: s)?)"
_RULES: tuple[tuple[ClinicianOnly, re.Pattern[str]], ...] = (
    (
        "own_result",
        re.compile(
            rf"\b{_WHOSE} (?:latest |last |new |recent )?(?:psa|p s a|result|reading|level"
            rf"|blood test|test)s?\b[^|]*?\b{_NUMBER}\b{_NOT_A_RESULT}"
            r"|\b(?:psa|p s a) (?:of|is|was|went|came back|at|has gone|reading|level)\b"
            rf"[^|]*?\b{_NUMBER}\b{_NOT_A_RESULT}"
            r"|\bgleason\b|\bhistology\b|\bpathology\b|\b(?:positive|clear) margins?\b"
            r"|\bperineural\b|\bbiopsy results?\b|\bmy (?:scan|mri|ct|bone scan) (?:result|show)"
        ),
    ),
    (
        "own_record",
        re.compile(
            r"\b(?:were|are|was|is) my (?:lymph nodes?|margins?|results?|scans?)\b"
            r"|\bmy next appointment\b|\bname of (?:the|my) (?:surgeon|doctor|consultant)\b"
            r"|\bwho (?:did|performed|operated)\b|\bmy (?:notes|records|discharge letter)\b"
            r"|\bdo i need a (?:bone scan|scan|mri|ct)\b"
        ),
    ),
    (
        "dose_or_prescription",
        re.compile(
            rf"\b(?:dose|dosage|doses|milligrams?|{_NUMBER} ?mg|prescriptions?|prescribe|renew"
            r"|refill)\b"
            r"|\bshould i (?:switch|change|stop|start|increase|decrease|double|up)\b[^|]*"
            r"\b(?:tablets?|pills?|medicines?|medication|tadalafil|sildenafil|viagra|cialis|dose)"
            r"|\bhow (?:much|many) [^|]*\bshould i take\b"
        ),
    ),
    (
        "treatment_choice",
        re.compile(
            r"\bdo i need (?:radiotherapy|radiation|hormone|chemo|chemotherapy|more treatment"
            r"|another operation|further treatment)\b"
            r"|\b(?:is|was) (?:robotic|open|keyhole|laparoscopic) (?:surgery )?better\b"
            r"|\bshould i have (?:had|gone for|chosen)\b"
            r"|\b(?:is that|is it) better than\b"
        ),
    ),
)


def needs_clinician(text: str, normalised: str | None = None) -> ClinicianOnly | None:
    """Why the question is a clinician's to answer, or None.

    ``normalised``: ``escalation.triage.normalise(text)`` when the turn already has it."""
    # ".12" is how people type 0.12; read as a sentence end it would hide the number.
    if normalised is None or _BARE_DECIMAL.search(text):
        normalised = normalise(_BARE_DECIMAL.sub(r"\g<1>0.\2", text))
    words = " ".join("|" if t in (".", "?") else t for t in normalised.split() if t != ",")
    for kind, pattern in _RULES:
        if pattern.search(words):
            return kind
    return None
