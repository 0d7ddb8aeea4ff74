"""The assistant's own fixed words: smalltalk, hand-over and booking sentences.

Everything medical comes from the corpus or from the clinic's red-flag instructions;
these sentences only say what is happening.
"""

from __future__ import annotations

from datetime import datetime

from avatar_bridge.spoken_time import spoken_datetime
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
GUIDES_UNREACHABLE = "I'm sorry, I can't look in your clinic's guides just now, so I won't guess."
# The coordinator's queue says why such a turn escalated (its reason stays low_confidence).
INDEX_DOWN_ATTENTION = "the guides' index could not be searched (the Chroma server is down)"
PERSON_REQUESTED = "Of course. I'll put you in touch with the care team."
FIRST_WORDS = "Let me check that for you."
OTHER_QUESTION = (
    "You asked about more than one thing: I've answered the first. "
    "Ask me the other on its own, or ask to speak to the care team."
)
# Said when booking outlasts the clinic's patience and the patient can be texted.
TEXT_WHEN_BOOKED = (
    "Booking your appointment is taking a little longer than usual, so I'll send you a text "
    "message with the time as soon as it's booked. You don't need to stay on the line."
)
# The database could not take the escalation: it waits on this server's disk and reaches the
# care team as soon as the database is back (no booking to give yet).
SAVED_FOR_LATER = (
    "I couldn't reach the care team's booking system just now, so I've saved your request "
    "and it will reach them as soon as the system is back."
)
TEXT_WHEN_BOOKED_URGENT = (
    "I'll also send you a text message with your appointment time once it's booked."
)
# Said when a danger sign is described in words no rule is sure of, but the guides treat
# what he describes as a reason to call: never general information.
NEEDS_CHECKING_TODAY = (
    "What you describe needs checking by someone who can assess you. "
    "{urgency_urgent} {urgency_safety_net}"
)


def safety_net(clinic: ClinicConfig) -> str:
    """What to do if it cannot wait for the care team: on-call now, then 111 or A&E, 999."""
    phrases = clinic.urgency_phrases()
    urgent = phrases["urgent"]
    return f"If it cannot wait, {urgent[:1].lower()}{urgent[1:]} {phrases['safety_net']}"


def booking_sentences(
    clinician: str | None,
    start: datetime | None,
    now: datetime,
    clinic: ClinicConfig,
    identified: bool = True,
) -> list[str]:
    """What happens next, said plainly, and what to do if it cannot wait (every hand-over).

    An unidentified caller is not booked: he gets a callback request and the numbers to call.
    """
    contacts = clinic.contacts
    if not identified:
        return [
            "I can't book an appointment without knowing who you are, so I've left a "
            "callback request for the care team.",
            f"To speak to someone, call the nurse line on {contacts.nurse_line_phone}, "
            f"{contacts.nurse_line_hours}, or out of hours the on-call team on "
            f"{contacts.on_call_phone}.",
            safety_net(clinic),
        ]
    if clinician and start:
        return [
            f"I've booked you a call with {clinician} {spoken_datetime(start, now)}.",
            "A care coordinator has your question and will be ready for the call.",
            safety_net(clinic),
        ]
    return [
        "I've passed your question to a care coordinator, who will contact you.",
        f"If you need to talk to someone sooner, call the nurse line on "
        f"{contacts.nurse_line_phone}, {contacts.nurse_line_hours}.",
        safety_net(clinic),
    ]


def urgent_follow_up(priority: str, clinic: ClinicConfig) -> str:
    """Said after a red-flag instruction. Never suggests that help is on its way."""
    if priority == "emergency":
        return clinic.urgency_phrases()["emergency_not_dispatched"]
    return "I've also let your care team know, but please make that call yourself now."
