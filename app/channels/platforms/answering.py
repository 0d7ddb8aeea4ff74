"""What to say to one platform request: a greeting, nothing after a tool result, the
caller's identification, or the assistant's turn for him.

Everything with an effect (identification attempts, escalations) happens inside the
returned producer, which runs once per reply: a retried request never repeats it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.channels.platforms.caller_id import Caller
from app.channels.platforms.calls import CallIdentity
from app.channels.platforms.reply_book import Producer, Reply
from app.channels.platforms.spoken_dates import parse_spoken_date
from app.channels.platforms.turns import produce_turn
from app.conversation.composers.base import Message
from app.conversation.patient_memory import (
    first_name,
    pending_sentences,
    recent_history,
    resolve_follow_up,
    stage_sentence,
)
from app.conversation.replies import SMALLTALK
from app.errors import AppError
from app.services import Services

ASK_BIRTH_DATE = "So that I can look at your own record, please tell me your date of birth."
CONFIRMED = "Thank you, {name}, I've found your record."
WRONG_BIRTH_DATE = (
    "I'm sorry, that date of birth doesn't match our records. Please say it again, "
    "or ask your question and I'll answer in general terms."
)
LOCKED = (
    "I can't confirm who you are on this call, so I'll answer in general terms. "
    "The care team can help with anything about your own record."
)
WHAT_NEXT = "What would you like to know?"


def plan_reply(
    services: Services,
    call: CallIdentity,
    kind: str,
    utterance: str,
    history: tuple[Message, ...],
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> Producer:
    async def produce(reply: Reply) -> None:
        caller = _caller(services, call)
        if kind == "tool":
            # The result of a tool we called (a transfer under way): never a new turn.
            return
        if kind == "assistant":
            for sentence in _greeting(services, caller):
                reply.say(sentence)
            return
        if caller.awaiting_birth_date:
            check = services.callers.check_birth_date(caller, utterance)
            if check == "confirmed" and caller.patient is not None:
                reply.say(CONFIRMED.format(name=first_name(caller.patient)))
                for sentence in await _pending(services, caller):
                    reply.say(sentence)
                reply.say(WHAT_NEXT)
                return
            if check == "wrong":
                reply.say(WRONG_BIRTH_DATE)
                return
            if check == "locked" and not caller.asked:
                caller.asked = True
                reply.say(LOCKED)
                return
        patient_id = caller.patient.id if caller.patient is not None else None
        known = _without_identification(history, services)
        if caller.patient is not None and patient_id is not None:
            services.people.audit("platform", f"{call.platform}.turn", "turn", patient_id)
            earlier = recent_history(services.turns, patient_id, call.conversation_id)
            known = earlier + known
        question = resolve_follow_up(utterance, known)
        # A key derived from the messages may be shared by different callers: it never
        # groups escalations nor holds one back.
        conversation_id = call.conversation_id if call.stable else None
        context = services.turn_context(
            patient_id, known, channel="platform", conversation_id=conversation_id
        )
        if conversation_id is not None:
            ticket = services.calls.begin(conversation_id)
            context.may_escalate = services.calls.gate(conversation_id, ticket)
        await produce_turn(services, reply, question, context, tools)
        if caller.patient is not None and reply.result is not None:
            # After an answer only: never ahead of a red flag's fixed instruction.
            stage = stage_sentence(caller.patient, utterance, services.clock().date())
            if stage is not None and reply.result.outcome == "answered":
                reply.say(stage)

    return produce


def _without_identification(
    history: tuple[Message, ...], services: Services
) -> tuple[Message, ...]:
    """The conversation without the caller's date of birth and our answer to it."""
    kept: list[Message] = []
    skip_answer = False
    today = services.clock().date()
    order = services.clinic.date_order
    for message in history:
        if message.role == "patient" and parse_spoken_date(message.text, order, today):
            skip_answer = True
            continue
        if skip_answer and message.role == "assistant":
            skip_answer = False
            continue
        skip_answer = False
        kept.append(message)
    return tuple(kept)


def _caller(services: Services, call: CallIdentity) -> Caller:
    number = call.caller_number if call.stable else None
    caller = services.callers.caller(call.conversation_id, number)
    ref = call.avatar_patient_ref
    # An avatar conversation's marker counts only for a session we started for that patient.
    if caller.patient is None and ref is not None and services.avatars.has_patient(ref):
        try:
            caller.patient = services.people.patient(ref)
        except AppError:
            caller.patient = None
    return caller


def _greeting(services: Services, caller: Caller) -> list[str]:
    if caller.patient is not None:
        return [f"Hello, {first_name(caller.patient)}.", WHAT_NEXT]
    sentences = [SMALLTALK["greeting"]]
    if caller.awaiting_birth_date and not services.callers.locked(caller):
        caller.asked = True
        sentences.append(ASK_BIRTH_DATE)
    return sentences


async def _pending(services: Services, caller: Caller) -> list[str]:
    assert caller.patient is not None
    escalations = await services.escalations.list()
    return pending_sentences(caller.patient, escalations, services.clock())
