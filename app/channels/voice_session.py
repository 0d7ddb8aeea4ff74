"""One voice conversation over a WebSocket: transcripts in, sentences out, interruptions.

A new final transcript or an interrupt cancels the turn in flight; sentences not yet sent
are dropped, but an escalation the turn had started still finishes and is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from app.channels.schemas import EscalationOut
from app.conversation.assistant import Assistant
from app.conversation.composers.base import Message
from app.conversation.front_door import Caller, FrontDoor
from app.conversation.replies import FIRST_WORDS
from app.conversation.turn import (
    CompletedEvent,
    EscalationEvent,
    EscalationRef,
    RedFlagEvent,
    SentenceEvent,
    SourcesEvent,
    TurnContext,
)
from app.errors import InvalidQuestionError
from app.operations.metrics import Metrics
from escalation.records import Escalation

Send = Callable[[dict[str, Any]], Awaitable[None]]
HISTORY_TURNS = 6


class SpeechOut:
    """Where sentences go besides the socket (an avatar that speaks them), if anywhere."""

    async def say(self, text: str) -> None:
        return None

    async def stop(self) -> None:
        return None


class VoiceSession:
    def __init__(
        self,
        assistant: Assistant,
        door: FrontDoor,
        caller: Caller,
        send: Send,
        metrics: Metrics,
        patient_id: str | None,
        ack_after_s: float,
        speech_out: SpeechOut | None = None,
        patient_context: str | None = None,
        follow_up: Callable[[Escalation], None] | None = None,
    ) -> None:
        self._assistant = assistant
        self._door = door
        self._caller = caller
        self._follow_up = follow_up
        self.conversation_id = uuid.uuid4().hex
        self._raw_send = send
        self._send_lock = asyncio.Lock()
        self._metrics = metrics
        self._patient_id = patient_id
        self._patient_context = patient_context
        self._ack_after_s = ack_after_s
        self._speech_out = speech_out or SpeechOut()
        self._history: list[Message] = []
        self._turn: asyncio.Task[None] | None = None
        self._turn_id: str | None = None
        self._followers: set[asyncio.Task[None]] = set()

    async def handle(self, message: object) -> None:
        """One client message, already decoded from JSON."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._error("bad_message", "each message must be a JSON object with a 'type'")
            return
        kind = message["type"]
        if kind == "interrupt":
            await self.cancel_turn()
        elif kind == "user_transcript":
            text = message.get("text")
            if not isinstance(text, str):
                await self._error("bad_message", "'text' must be a string")
                return
            if message.get("final", True) is not True:
                return
            try:
                self._door.check_question(text)
            except InvalidQuestionError as exc:
                await self._error("empty_transcript" if not text.strip() else "too_long", str(exc))
                return
            await self.cancel_turn()
            context = TurnContext(
                patient_id=self._patient_id,
                history=tuple(self._history),
                patient_context=self._patient_context,
                conversation_id=self.conversation_id,
                channel="voice",
                follow_up=self._follow_up,
            )
            self._turn_id = context.turn_id
            self._turn = asyncio.create_task(self._run(text, context))
        else:
            await self._error("unknown_type", f"unknown message type '{kind}'")

    async def cancel_turn(self) -> None:
        """Stop the turn in flight (if any); its started escalation is still reported."""
        task, turn_id = self._turn, self._turn_id
        self._turn, self._turn_id = None, None
        if task is None or task.done() or turn_id is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._metrics.cancelled_turns.labels("voice").inc()
        with contextlib.suppress(Exception):
            await self._speech_out.stop()
        await self._send({"type": "turn.cancelled", "turn_id": turn_id})
        follower = asyncio.create_task(self._report_escalation(turn_id))
        self._followers.add(follower)
        follower.add_done_callback(self._followers.discard)

    async def close(self) -> None:
        """The client left: stop everything; escalations finish in the assistant."""
        if self._turn is not None:
            self._turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._turn
        for follower in list(self._followers):
            follower.cancel()
        self._turn = None

    async def _send(self, event: dict[str, Any]) -> None:
        # The turn task and the receive loop both send: one frame at a time.
        async with self._send_lock:
            await self._raw_send(event)

    @property
    def busy(self) -> bool:
        return self._turn is not None and not self._turn.done()

    async def _report_escalation(self, turn_id: str) -> None:
        escalation = await self._assistant.escalation_of(turn_id)
        if escalation is not None:
            with contextlib.suppress(Exception):
                await self._send(
                    {"type": "turn.escalation", "turn_id": turn_id, **escalation_json(escalation)}
                )

    async def _run(self, text: str, context: TurnContext) -> None:
        turn_id = context.turn_id
        started = time.perf_counter()
        await self._send({"type": "turn.started", "turn_id": turn_id, "text": text})
        index = 0
        first_sent = asyncio.Event()

        async def speak(sentence: str) -> None:
            nonlocal index
            if not first_sent.is_set():
                first_sent.set()
                self._metrics.observe_step(
                    "voice_first_sentence", (time.perf_counter() - started) * 1000
                )
            await self._send(
                {"type": "speech.sentence", "turn_id": turn_id, "index": index, "text": sentence}
            )
            index += 1
            await self._speech_out.say(sentence)

        async def acknowledge() -> None:
            await asyncio.sleep(self._ack_after_s)
            if not first_sent.is_set():
                await speak(FIRST_WORDS)

        ack = asyncio.create_task(acknowledge())
        answer: list[str] = []
        self._metrics.turns_in_flight.inc()
        try:
            async for event in self._door.turn(text, context, self._caller):
                if isinstance(event, SentenceEvent):
                    ack.cancel()
                    answer.append(event.text)
                    await speak(event.text)
                elif isinstance(event, SourcesEvent):
                    await self._send(
                        {
                            "type": "turn.sources",
                            "turn_id": turn_id,
                            "sources": [vars(s) for s in event.sources],
                        }
                    )
                elif isinstance(event, RedFlagEvent):
                    await self._send(
                        {
                            "type": "turn.red_flag",
                            "turn_id": turn_id,
                            "rule": event.red_flag.rule,
                            "priority": event.red_flag.priority,
                        }
                    )
                elif isinstance(event, EscalationEvent):
                    await self._send(
                        {
                            "type": "turn.escalation",
                            "turn_id": turn_id,
                            **escalation_json(event.escalation),
                        }
                    )
                elif isinstance(event, CompletedEvent):
                    await self._send(
                        {
                            "type": "turn.completed",
                            "turn_id": turn_id,
                            "outcome": event.result.outcome,
                            "timings_ms": event.result.timings_ms,
                        }
                    )
        finally:
            ack.cancel()
            self._metrics.turns_in_flight.dec()
        self._history.extend([Message("patient", text), Message("assistant", " ".join(answer))])
        del self._history[: -2 * HISTORY_TURNS]

    async def handle_error(self, code: str, message: str) -> None:
        await self._error(code, message)

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})


def escalation_json(ref: EscalationRef) -> dict[str, Any]:
    """The escalation as every channel shows it (the `aftercare ask` contract's object)."""
    return {"escalation": EscalationOut.of(ref).model_dump(mode="json")}
