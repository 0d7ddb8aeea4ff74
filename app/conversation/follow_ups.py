"""Follow-up text messages: the appointment a slow booking made, sent to the patient later.

When booking takes longer than the clinic's patience, the patient hears that he will get a
text message and may hang up (``app.conversation.assistant``); once the booking finishes,
``FollowUpTexts`` queues one text to the phone number stored on his record (never a number
a caller gave), through the durable, retried text outbox (``escalation.sms``). It is offered
only for a patient whose identity is confirmed (his own key, a page session, or caller
number plus date of birth) and who has a stored number.

The body says the clinic's name and the appointment time, nothing clinical: no reason, no
symptom, no clinician. When the booking could not be made it says the care team will be in
touch. Each text is audited on the patient's record; nothing of it is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from app.people.directory import Patient, People
from escalation.clinic import ClinicConfig
from escalation.outbox import AlertOutbox
from escalation.records import Escalation
from escalation.sms import SMS_EVENT

log = logging.getLogger("aftercare.texts")

MAX_BODY_CHARS = 320  # two SMS segments at most


def text_body(clinic: ClinicConfig, escalation: Escalation) -> str:
    """What the patient reads: the clinic and the time, in the clinic's time zone. Pure."""
    appointment = escalation.appointment
    if appointment is None or appointment.status != "booked":
        body = (
            f"{clinic.name}: we could not book your appointment automatically. "
            "The care team will contact you."
        )
    else:
        local = appointment.start.astimezone(ZoneInfo(clinic.care_team.timezone))
        when = f"{local:%A} {local.day} {local:%B} at {local:%H:%M}"
        body = f"{clinic.name}: your appointment with the care team is booked for {when}."
    return body[:MAX_BODY_CHARS]


class FollowUpTexts:
    """Queues follow-up texts; ``for_patient`` says whether a patient can be texted at all."""

    def __init__(self, outbox: AlertOutbox, people: People, clinic: ClinicConfig) -> None:
        self._outbox = outbox
        self._people = people
        self._clinic = clinic
        self._queuing: set[asyncio.Future[None]] = set()

    @property
    def outbox(self) -> AlertOutbox:
        return self._outbox

    def for_patient(self, patient: Patient | None) -> Callable[[Escalation], None] | None:
        """The follow-up for ``TurnContext.follow_up``: None when there is nobody to text."""
        if patient is None or not patient.phone:
            return None
        patient_id = patient.id

        def follow_up(escalation: Escalation) -> None:
            future = asyncio.get_running_loop().run_in_executor(
                None, self.send, patient_id, escalation
            )
            self._queuing.add(future)
            future.add_done_callback(self._queued)

        return follow_up

    def send(self, patient_id: str, escalation: Escalation) -> None:
        """Queue the text to the number on the patient's record now (blocking)."""
        patient = self._people.patient(patient_id)
        if not patient.phone:
            log.warning("escalation %s: the patient has no phone number now", escalation.id)
            return
        self._outbox.enqueue(
            escalation.id,
            SMS_EVENT,
            {"to": patient.phone, "body": text_body(self._clinic, escalation)},
        )
        booked = escalation.appointment is not None
        self._people.audit(
            "system",
            "text.follow_up",
            f"escalation:{escalation.id}",
            patient_id,
            detail="appointment time" if booked else "booking not made",
        )

    def _queued(self, future: asyncio.Future[None]) -> None:
        self._queuing.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("a follow-up text could not be queued: %s", type(future.exception()).__name__)

    async def drain(self) -> None:
        if self._queuing:
            await asyncio.gather(*self._queuing, return_exceptions=True)
