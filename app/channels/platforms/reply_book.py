"""Replies to platform requests, kept for a while so a retried request gets the same one.

A platform retries a request when it never saw the answer; the retry must not run the turn
again (a second escalation, a second booking, a second transfer). Each reply is keyed by
conversation, position in the conversation and utterance; the turn runs detached from the
HTTP request, so a dropped connection does not cancel it, and a retry arriving while it
runs follows the same reply sentence by sentence.

Platforms that send growing partial transcripts of one utterance (Tavus speculative
inference) get :class:`CallSequence`: a turn may only escalate once it is still the newest
request of its call after a short settling pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.channels.openai_compat import new_completion_id
from app.conversation.turn import TurnResult

log = logging.getLogger("aftercare.platform")


@dataclass
class Reply:
    """One answer to one utterance, as it is being spoken and once it is complete."""

    completion_id: str
    created: int
    sentences: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    result: TurnResult | None = None
    withheld: bool = False
    failed: bool = False
    done: bool = False
    finished_at: float | None = None
    ttl_s: float | None = None
    _signal: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def new(cls) -> Reply:
        return cls(completion_id=new_completion_id(), created=int(time.time()))

    def say(self, text: str) -> None:
        self.sentences.append(text)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self.finished_at = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        self._signal.set()
        self._signal = asyncio.Event()

    async def follow(self) -> AsyncIterator[str]:
        """Every sentence, including those said before the caller started following."""
        index = 0
        while True:
            signal = self._signal
            while index < len(self.sentences):
                yield self.sentences[index]
                index += 1
            if self.done:
                return
            await signal.wait()

    async def complete(self) -> Reply:
        async for _ in self.follow():
            pass
        return self

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


Producer = Callable[[Reply], Awaitable[None]]


class ReplyBook:
    """Replies by key for ``ttl_s`` after they finish; at most ``capacity`` kept."""

    def __init__(self, ttl_s: float, capacity: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._replies: OrderedDict[str, Reply] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def reply(
        self,
        key: str,
        make: Callable[[], Reply],
        produce: Producer,
        ttl_s: float | None = None,
    ) -> tuple[Reply, bool]:
        """The reply under ``key``, started with ``produce`` if there is none (then True);
        kept ``ttl_s`` (default: the book's) after it finishes."""
        self._expire()
        existing = self._replies.get(key)
        if existing is not None and not existing.withheld and not existing.failed:
            return existing, False
        reply = make()
        reply.ttl_s = ttl_s
        self._replies[key] = reply
        self._replies.move_to_end(key)
        task = asyncio.create_task(self._run(reply, produce))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return reply, True

    async def _run(self, reply: Reply, produce: Producer) -> None:
        try:
            await produce(reply)
        except Exception:
            reply.failed = True
            log.exception("a platform reply failed")
        finally:
            reply.finish()

    def _expire(self) -> None:
        now = time.monotonic()
        for key in list(self._replies):
            reply = self._replies[key]
            ttl = reply.ttl_s if reply.ttl_s is not None else self._ttl_s
            old = reply.finished_at is not None and now - reply.finished_at > ttl
            if reply.done and (old or len(self._replies) > self._capacity):
                del self._replies[key]

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class CallSequence:
    """Which request of a call is the newest; older ones never escalate."""

    def __init__(self, settle_s: float, capacity: int = 10_000) -> None:
        self._settle_s = settle_s
        self._capacity = capacity
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._counter = 0

    def begin(self, conversation_id: str) -> int:
        self._counter += 1
        self._latest[conversation_id] = self._counter
        self._latest.move_to_end(conversation_id)
        while len(self._latest) > self._capacity:
            self._latest.popitem(last=False)
        return self._counter

    def gate(self, conversation_id: str, ticket: int) -> Callable[[], Awaitable[bool]]:
        """For ``TurnContext.may_escalate``: still the newest after the settling pause?"""

        async def settled() -> bool:
            await asyncio.sleep(self._settle_s)
            return self._latest.get(conversation_id) == ticket

        return settled
