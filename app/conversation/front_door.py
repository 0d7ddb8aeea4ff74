"""The one way into a turn, whatever the channel (HTTP, page, voice socket, platforms, CLI).

A channel hands over the question, who is asking and its own label; the front door checks
the question, refuses while the assistant is still loading, writes the audit row, runs the
turn and records its metrics. Channels only translate: they never re-check or re-audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from app.channels.ratelimits import RateLimits
from app.conversation.assistant import Assistant
from app.conversation.turn import CompletedEvent, TurnContext, TurnEvent, TurnResult
from app.errors import InvalidQuestionError, NotAuthenticatedError, NotReadyError
from app.loaded import LoadedParts
from app.operations.metrics import Metrics
from app.people.directory import Patient, People

log = logging.getLogger("aftercare.turn")


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the audit trail names him, and where from."""

    actor: str
    source: str | None = None

    @staticmethod
    def of(patient_id: str | None, source: str | None = None) -> Caller:
        actor = f"patient:{patient_id}" if patient_id is not None else "anonymous"
        return Caller(actor, source)


class FrontDoor:
    def __init__(
        self,
        max_chars: int,
        people: People,
        limits: RateLimits,
        metrics: Metrics,
        loaded: LoadedParts,
    ) -> None:
        self._max_chars = max_chars
        self._people = people
        self._limits = limits
        self._metrics = metrics
        self._loaded = loaded

    def check_question(self, question: str) -> None:
        if not question.strip():
            raise InvalidQuestionError("the question is empty")
        if len(question) > self._max_chars:
            raise InvalidQuestionError(f"the question is longer than {self._max_chars} characters")

    def open_assistant(self) -> Assistant:
        assistant = self._loaded.assistant
        if assistant is None:
            raise NotReadyError("the assistant is still loading its model and index")
        return assistant

    async def admit(self, patient_id: str, key: str | None, source: str | None) -> Patient:
        """The patient if the key (or page session token) is his; failures are counted per
        address, and too many of them get 429 before the key is even looked at."""
        self._limits.refuse_if_over("auth_failures", source)
        try:
            return await asyncio.to_thread(self._people.patient_for_key, patient_id, key, source)
        except NotAuthenticatedError:
            self._limits.hit("auth_failures", source)
            raise

    async def turn(
        self, question: str, context: TurnContext, caller: Caller, metric: str | None = None
    ) -> AsyncGenerator[TurnEvent]:
        """The turn's events; ``metric`` labels its figures (default: the context's channel)."""
        self.check_question(question)
        assistant = self.open_assistant()
        try:
            await self._people.audit_async(
                caller.actor,
                "ask",
                "turn",
                context.patient_id,
                context.channel,
                source=caller.source,
            )
        except (OperationalError, InterfaceError) as exc:
            # The database is down: a danger sign must still be heard. No patient record was
            # read (admitting him needs the database), so nothing goes unaudited but the turn.
            log.error("turn not audited, database unavailable: %s", type(exc).__name__)
        async with contextlib.aclosing(assistant.turn(question, context)) as events:
            async for event in events:
                if isinstance(event, CompletedEvent):
                    self._metrics.observe(event.result, metric or context.channel)
                yield event

    async def ask(self, question: str, context: TurnContext, caller: Caller) -> TurnResult:
        result: TurnResult | None = None
        async for event in self.turn(question, context, caller):
            if isinstance(event, CompletedEvent):
                result = event.result
        assert result is not None
        return result
