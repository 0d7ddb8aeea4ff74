"""Generated answers: a language model behind any OpenAI-compatible endpoint writes the
answer from the retrieved passages, and every sentence is checked against them before
it is spoken.

Sentences leave one by one as the model streams them. The patient is never left in
silence: no first sentence in time, an error or a timeout before it, and the extractive
answer is spoken instead (the fallback is counted). Once a sentence has been spoken the
answer only ever stops early; it never turns into an escalation half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import numpy as np
import openai
from numpy.typing import NDArray
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk

from app.conversation.composers.base import (
    AnswerComposer,
    CannotAnswer,
    ComposedSentence,
    CompositionRequest,
)
from app.conversation.composers.extractive import attribution
from app.conversation.composers.grounding import Grounds, Support, SupportChecker
from app.conversation.composers.prompt import build_messages, is_dont_know
from app.operations.tracing import note_generation
from app.settings import Settings
from avatar_bridge.sentences import SentenceStream
from ingestion.embedding import Embedder
from ingestion.search import Passage

log = logging.getLogger("aftercare.composer")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_SENTENCES = 5

FallbackReason = str  # "slow" | "timeout" | "error" | "error_mid_answer"
# The index's own sentence vectors of the passages, by chunk_id, when it can give them.
PassageVectors = Callable[[Sequence[Passage]], Mapping[str, NDArray[np.float32]]]


@dataclass
class _Answer:
    """What has been decided so far for one answer."""

    grounds: Grounds | None = None
    held: list[tuple[str, Support]] = field(default_factory=list)
    content: int = 0
    spoken_docs: Counter[str] = field(default_factory=Counter)
    named_docs: set[str] = field(default_factory=set)
    finished: bool = False
    usage: _Usage = field(default_factory=lambda: _Usage())


@dataclass
class _Usage:
    """What the stream said about itself: token counts arrive in its last chunk."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    finish_reason: str | None = None

    def read(self, chunk: ChatCompletionChunk) -> None:
        self.model = chunk.model or self.model
        if chunk.choices and chunk.choices[0].finish_reason:
            self.finish_reason = chunk.choices[0].finish_reason
        if chunk.usage is not None:
            self.input_tokens = chunk.usage.prompt_tokens
            self.output_tokens = chunk.usage.completion_tokens


class GeneratedComposer:
    """Streams a chat completion, speaks its supported sentences, drops the rest."""

    name = "generated"

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        temperature: float,
        first_sentence_timeout_s: float,
        support: SupportChecker,
        fallback: AnswerComposer,
        on_fallback: Callable[[FallbackReason], None],
        min_supported: int = 1,
        passage_vectors: PassageVectors | None = None,
        stream_usage: bool = True,
    ) -> None:
        self._client = client
        self.model = model
        self._stream_usage = stream_usage
        self._passage_vectors = passage_vectors
        self._model = model
        self._temperature = temperature
        self._first_timeout = first_sentence_timeout_s
        self._support = support
        self._fallback = fallback
        self._on_fallback = on_fallback
        self._min_supported = max(1, min_supported)

    async def aclose(self) -> None:
        await self._client.close()

    async def compose(self, request: CompositionRequest) -> AsyncIterator[ComposedSentence]:
        known = self._passage_vectors(request.passages) if self._passage_vectors else None
        grounding = asyncio.create_task(
            asyncio.to_thread(self._support.grounds, request.passages, known)
        )
        answer = _Answer()
        stream: AsyncStream[ChatCompletionChunk] | None = None
        sentences: AsyncIterator[str] | None = None
        reason: FallbackReason | None = None
        try:
            try:
                async with asyncio.timeout(self._first_timeout) as scope:
                    stream = await self._client.chat.completions.create(
                        model=self._model,
                        messages=build_messages(request),
                        temperature=self._temperature,
                        stream=True,
                        **_usage_option(self._stream_usage),
                    )
                    sentences = _sentences(stream, answer.usage)
                    await self._opening(sentences, grounding, answer)
            except TimeoutError:
                if not scope.expired():
                    raise
                reason = "slow"
            except openai.APITimeoutError:
                reason = "timeout"
            except (openai.OpenAIError, ValueError) as exc:
                log.warning(
                    "the language model failed before its first sentence: %s", type(exc).__name__
                )
                reason = "error"

            if reason is not None:
                await _close(sentences, stream)
                sentences = stream = None
                self._on_fallback(reason)
                async for sentence in self._fallback.compose(request):
                    yield sentence
                return

            assert sentences is not None and answer.grounds is not None
            for text, support in answer.held:
                yield self._spoken(text, support, answer)
            answer.held.clear()
            if not answer.finished:
                try:
                    async for text in sentences:
                        if is_dont_know(text):
                            break
                        support = await asyncio.to_thread(answer.grounds.check, text)
                        if not support.supported:
                            continue
                        yield self._spoken(text, support, answer)
                        if support.verdict != "attribution":
                            answer.content += 1
                            if answer.content >= MAX_SENTENCES:
                                break
                except (openai.OpenAIError, ValueError) as exc:
                    log.warning("the language model failed mid-answer: %s", type(exc).__name__)
                    self._on_fallback("error_mid_answer")
            closing = self._closing(answer, request)
            if closing is not None:
                yield closing
        finally:
            await _close(sentences, stream)
            if not grounding.done():
                grounding.cancel()
            usage = answer.usage
            if usage.model is not None:
                note_generation(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    response_model=usage.model,
                    finish_reason=usage.finish_reason,
                )

    async def _opening(
        self,
        sentences: AsyncIterator[str],
        grounding: asyncio.Task[Grounds],
        answer: _Answer,
    ) -> None:
        """Read until enough supported sentences are held to start speaking."""
        async for text in sentences:
            if is_dont_know(text):
                raise CannotAnswer("the model found no answer in the passages")
            if answer.grounds is None:
                answer.grounds = await grounding
            support = await asyncio.to_thread(answer.grounds.check, text)
            if not support.supported:
                continue
            answer.held.append((text, support))
            if support.verdict != "attribution":
                answer.content += 1
            if answer.content >= self._min_supported:
                return
        answer.finished = True
        if answer.content < self._min_supported:
            raise CannotAnswer("too little of the generated answer is supported by the passages")

    @staticmethod
    def _spoken(text: str, support: Support, answer: _Answer) -> ComposedSentence:
        assert answer.grounds is not None
        answer.named_docs |= answer.grounds.mentions(text)
        if support.verdict == "attribution":
            if support.doc_id:
                answer.named_docs.add(support.doc_id)
        elif support.doc_id:
            answer.spoken_docs[support.doc_id] += 1
        return ComposedSentence(text, support.doc_id)

    @staticmethod
    def _closing(answer: _Answer, request: CompositionRequest) -> ComposedSentence | None:
        """Name the main document, if the model did not."""
        if not answer.spoken_docs:
            return None
        main = answer.spoken_docs.most_common(1)[0][0]
        if main in answer.named_docs:
            return None
        title = next((p.title for p in request.passages if p.doc_id == main and p.title), None)
        return ComposedSentence(attribution(title), None) if title else None


def _usage_option(wanted: bool) -> dict[str, Any]:
    """Ask for token counts in the stream's last chunk (OpenAI's ``stream_options``)."""
    return {"stream_options": {"include_usage": True}} if wanted else {}


async def _sentences(stream: AsyncStream[ChatCompletionChunk], usage: _Usage) -> AsyncIterator[str]:
    splitter = SentenceStream()
    async for chunk in stream:
        usage.read(chunk)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta.content
        if delta:
            for sentence in splitter.feed(delta):
                yield sentence
    for sentence in splitter.flush():
        yield sentence


async def _close(
    sentences: AsyncIterator[str] | None, stream: AsyncStream[ChatCompletionChunk] | None
) -> None:
    closer = getattr(sentences, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
    if stream is not None:
        with contextlib.suppress(Exception):
            await stream.close()


def build_composer(
    settings: Settings,
    embedder: Embedder,
    fallback: AnswerComposer,
    on_fallback: Callable[[FallbackReason], None],
    passage_vectors: PassageVectors | None = None,
    http_client: httpx2.AsyncClient | None = None,
) -> AnswerComposer:
    """The generated composer when an endpoint or a key is configured, else ``fallback``."""
    key = settings.llm_api_key.get_secret_value().strip() if settings.llm_api_key else ""
    base_url = (settings.llm_base_url or "").strip()
    if not key and not base_url:
        return fallback
    client = AsyncOpenAI(
        base_url=base_url or DEFAULT_BASE_URL,
        api_key=key or "not-needed",
        timeout=settings.llm_timeout_s,
        max_retries=0,
        http_client=http_client,
    )
    return GeneratedComposer(
        client=client,
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        first_sentence_timeout_s=settings.llm_first_sentence_timeout_s,
        support=SupportChecker(embedder.embed, settings.llm_support_threshold),
        fallback=fallback,
        on_fallback=on_fallback,
        min_supported=settings.llm_min_supported,
        passage_vectors=passage_vectors,
        stream_usage=settings.llm_stream_usage,
    )
