"""What Aftercare remembers of a confirmed patient between calls: his turns (the turn store),
his escalations and appointments (the escalation records).

A returning patient hears what is pending; a short follow-up ("and at night?") is read
with his previous question, from this call or the last one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from app.conversation.composers.base import Message
from app.conversation.turn_log import StoredTurn, TurnLog
from app.people.directory import Patient
from avatar_bridge.spoken_time import spoken_datetime
from escalation.record_models import Escalation

FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|what if|and what about|same|even)\b", re.IGNORECASE
)
FOLLOW_UP_MAX_WORDS = 6
RECENT_TURNS = 4


def first_name(patient: Patient) -> str:
    return patient.display_name.split()[0] if patient.display_name.strip() else "there"


def pending_sentences(
    patient: Patient, escalations: Sequence[Escalation], now: datetime
) -> list[str]:
    """Booked calls still ahead of him, soonest first, said plainly."""
    upcoming = sorted(
        (
            e.appointment
            for e in escalations
            if e.patient_id == patient.id
            and e.status not in ("resolved", "cancelled")
            and e.appointment is not None
            and e.appointment.status == "booked"
            and e.appointment.start > now
        ),
        key=lambda a: a.start,
    )
    return [
        f"Your call with {a.clinician_name} is {spoken_datetime(a.start, now)}."
        for a in upcoming[:2]
    ]


def recent_history(
    turns: TurnLog, patient_id: str, conversation_id: str | None = None
) -> tuple[Message, ...]:
    """His last answered questions from earlier calls, oldest first, as history.

    Turns of this call are in the platform's own history already; escalations and small
    talk carry nothing a follow-up question could refer to.
    """
    history: list[Message] = []
    for turn in turns.recent(patient_id=patient_id, limit=RECENT_TURNS * 2):
        if turn.outcome != "answered" or turn.conversation_id == conversation_id:
            continue
        history.append(Message("patient", turn.question))
        history.append(Message("assistant", turn.answer))
    return tuple(history[-RECENT_TURNS * 2 :])


def stage_sentence(patient: Patient, question: str, today: date) -> str | None:
    """Where he is in his recovery, when he asks about his catheter."""
    if patient.surgery_date is None or "catheter" not in question.lower():
        return None
    days = (today - patient.surgery_date).days
    if days < 0:
        return None
    out_on = patient.catheter_out_on
    if out_on is not None and out_on <= today:
        return f"Your catheter came out on {spoken_day(out_on)}, {days} days after your operation."
    if out_on is not None:
        return (
            f"You're on day {days} after your operation, and your catheter is due out "
            f"on {spoken_day(out_on)}."
        )
    return f"You're on day {days} after your operation."


def spoken_day(day: date) -> str:
    """ "Friday the 4th of December"."""
    suffix = (
        "th" if 11 <= day.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    )
    return f"{day:%A} the {day.day}{suffix} of {day:%B}"


def resolve_follow_up(
    utterance: str, history: Sequence[Message], stored: Sequence[StoredTurn] = ()
) -> str:
    """A short elliptical follow-up, read together with the previous question."""
    words = utterance.split()
    if not words or len(words) > FOLLOW_UP_MAX_WORDS or not FOLLOW_UP.match(utterance.strip()):
        return utterance
    previous = next((m.text for m in reversed(history) if m.role == "patient"), None)
    if previous is None and stored:
        previous = stored[-1].question
    if not previous:
        return utterance
    return f"{previous.rstrip(' ?.!')}, {utterance.strip()}"
