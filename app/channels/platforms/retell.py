"""Retell's custom-LLM WebSocket protocol, one socket per call.

Retell connects to ``{llm_websocket_url}/{call_id}``; we send ``config`` (asking for
``call_details``) and, once the call's details arrive, the first ``response`` (id 0) that
greets the caller. Retell sends ``ping_pong`` (echoed), ``update_only`` (transcript so far,
nothing to say), ``response_required`` and ``reminder_required`` (answer with that
``response_id``). A newer ``response_id`` abandons the older answer (barge-in); the turn
behind it still finishes its booking. Unreadable messages are logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.channels.platforms.answering import plan_reply
from app.channels.platforms.calls import CallIdentity
from app.channels.platforms.reply_book import Reply
from app.channels.platforms.turns import says_goodbye, transfer_number
from app.conversation.composers.base import Message
from app.services import Services

log = logging.getLogger("aftercare.retell")
Send = Callable[[dict[str, Any]], Awaitable[None]]
REMINDER = "I'm still here. What would you like to ask about your recovery?"


class RetellCall:
    def __init__(self, services: Services, call_id: str, send: Send) -> None:
        self._services = services
        self._call_id = call_id
        self._send_raw = send
        self._sending = asyncio.Lock()
        self._caller_number: str | None = None
        self._greeted = False
        self._current: tuple[int, asyncio.Task[None]] | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._sending:  # one frame at a time: pongs interleave with answers
            await self._send_raw(message)

    @property
    def identity(self) -> CallIdentity:
        return CallIdentity("retell", f"retell:{self._call_id}", self._caller_number)

    async def open(self) -> None:
        await self._send(
            {"response_type": "config", "config": {"auto_reconnect": True, "call_details": True}}
        )

    async def handle_text(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            log.warning("retell call: a message that is not JSON was skipped")
            return
        if not isinstance(event, Mapping):
            log.warning("retell call: a message that is not an object was skipped")
            return
        kind = event.get("interaction_type")
        if kind == "ping_pong":
            await self._send({"response_type": "ping_pong", "timestamp": event.get("timestamp")})
        elif kind == "call_details":
            call = event.get("call")
            number = call.get("from_number") if isinstance(call, Mapping) else None
            self._caller_number = number if isinstance(number, str) else None
            await self._greet()
        elif kind == "update_only":
            return
        elif kind in ("response_required", "reminder_required"):
            response_id = event.get("response_id")
            transcript = event.get("transcript")
            if not isinstance(response_id, int) or not isinstance(transcript, list):
                log.warning("retell call: a %s without response_id or transcript", kind)
                return
            await self._respond(response_id, kind, transcript)
        else:
            log.warning("retell call: an unknown interaction type was skipped")

    async def _greet(self) -> None:
        if self._greeted:
            return
        self._greeted = True
        await self._answer(0, "assistant", "", ())

    async def _respond(self, response_id: int, kind: str, transcript: list[Any]) -> None:
        if self._current is not None and self._current[0] > response_id:
            return  # an older request arriving late
        history = _history(transcript)
        last = history[-1] if history else None
        if kind == "reminder_required" or last is None or last.role != "patient":
            await self._replace(response_id, self._remind(response_id))
            return
        await self._answer(response_id, "user", last.text, history[:-1])

    async def _answer(
        self, response_id: int, kind: str, utterance: str, history: tuple[Message, ...]
    ) -> None:
        services = self._services
        call = self.identity
        key = f"{call.conversation_id}|{response_id}|{kind}|{utterance.strip().lower()}"
        produce = plan_reply(services, call, kind, utterance, history)
        reply, _ = services.replies.reply(key, Reply.new, produce)
        await self._replace(response_id, self._forward(response_id, reply))

    async def _replace(self, response_id: int, work: Awaitable[None]) -> None:
        """Barge-in: the newest response replaces whatever was being said."""
        if self._current is not None:
            self._current[1].cancel()
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        task.add_done_callback(_log_failure)
        self._current = (response_id, task)

    async def _forward(self, response_id: int, reply: Reply) -> None:
        async for sentence in reply.follow():
            await self._send(_response(response_id, sentence + " ", complete=False))
        final = _response(response_id, "", complete=True)
        final["end_call"] = reply.result is not None and says_goodbye(reply.result)
        number = transfer_number(reply, self._services)
        if number is not None:
            final["transfer_number"] = number
        await self._send(final)

    async def _remind(self, response_id: int) -> None:
        await self._send(_response(response_id, REMINDER, complete=True))

    async def close(self) -> None:
        if self._current is not None:
            task = self._current[1]
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The socket went away mid-answer; the turn itself carries on.
        log.info("retell call: an answer stopped: %s", type(task.exception()).__name__)


def _response(response_id: int, content: str, complete: bool) -> dict[str, Any]:
    return {
        "response_type": "response",
        "response_id": response_id,
        "content": content,
        "content_complete": complete,
        "end_call": False,
    }


def _history(transcript: list[Any]) -> tuple[Message, ...]:
    messages: list[Message] = []
    for entry in transcript:
        if not isinstance(entry, Mapping):
            continue
        content = entry.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        role = "patient" if entry.get("role") == "user" else "assistant"
        messages.append(Message(role, content.strip()))
    return tuple(messages)
