"""The assistant's own fixed words: smalltalk, hand-over and booking sentences.

Everything medical comes from the corpus or from the clinic's red-flag instructions;
these sentences only say what is happening.
"""

from __future__ import annotations

from datetime import datetime

from avatar_bridge.speech import spoken_datetime
from escalation.clinic import ClinicConfig

SMALLTALK = {
    "greeting": "Hello. I'm here to help with questions about your recovery after prostate "
    "surgery. What would you like to know?",
    "thanks": "You're very welcome. Is there anything else you'd like to ask?",
    "goodbye": "Goodbye for now. Take care, and come back any time, day or night.",
    "identity": "I'm Aftercare, an assistant that answers from guides your clinic's care team "
    "wrote and approved. When I'm not sure, I put you in touch with a person.",
}

NOT_CONFIDENT = (
    "I'm sorry, I can't answer that confidently from your clinic's guides, "
    "and I don't want to guess."
)
PERSON_REQUESTED = "Of course. I'll put you in touch with the care team."
FIRST_WORDS = "Let me check that for you."
OTHER_QUESTION = (
    "You asked about more than one thing: I've answered the first. "
    "Ask me the other on its own, or ask to speak to the care team."
)
# Said when a danger sign is described in words no rule is sure of, but the guides treat
# what he describes as a reason to call: never general information.
NEEDS_CHECKING_TODAY = (
    "What you describe needs checking today by someone who can assess you. "
    "Call {on_call_name} on {on_call_phone} now, day or night. "
    "If no one answers, call 111 or go to A and E, and if you feel very unwell, "
    "call {emergency_number}."
)


def booking_sentences(
    clinician: str | None,
    start: datetime | None,
    now: datetime,
    clinic: ClinicConfig,
    identified: bool = True,
) -> list[str]:
    """What happens next, said plainly. An unidentified caller gets the numbers to call."""
    contacts = clinic.contacts
    if not identified:
        return [
            "I can't book an appointment without knowing who you are, so I've left a "
            "callback request for the care team.",
            f"To speak to someone, call the nurse line on {contacts.nurse_line_phone}, "
            f"{contacts.nurse_line_hours}, or out of hours the on-call team on "
            f"{contacts.on_call_phone}.",
        ]
    if clinician and start:
        return [
            f"I've booked you a call with {clinician} {spoken_datetime(start, now)}.",
            "A care coordinator has your question and will be ready for the call.",
        ]
    return [
        "I've passed your question to a care coordinator, who will contact you.",
        f"If you need to talk to someone sooner, call the nurse line on "
        f"{contacts.nurse_line_phone}, {contacts.nurse_line_hours}.",
    ]


def urgent_follow_up() -> str:
    return "I've also let the care team know straight away."
