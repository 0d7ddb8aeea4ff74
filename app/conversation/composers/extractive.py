"""Extractive answers: sentences taken word for word from the approved passages.

No sentence is ever written here except the closing attribution naming the document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import cast, get_args

from app.conversation.composers.base import CannotAnswer, ComposedSentence, CompositionRequest
from escalation.understanding import AnswerKind, holds_kind
from ingestion.search import Passage, ScoredSentence
from ingestion.text import content_stems

_MAX_SENTENCES = 4
_KIND_BONUS = 0.08
_SECOND_DOCUMENT = 0.05
_STRICT_SLACK = 0.2
_KINDS = frozenset(get_args(AnswerKind))
_MAX_WORDS = 90
_LEADS_BACK = (
    "this ",
    "it ",
    "they ",
    "these ",
    "that ",
    "after that",
    "then ",
    "so ",
    "but ",
    "also ",
    "if so",
    "if it",
    "if they",
    "he ",
    "she ",
)


@dataclass(frozen=True)
class _Candidate:
    passage_rank: int
    passage: Passage
    sentence: ScoredSentence
    score: float


def answering_documents(passages: Sequence[Passage], kind: AnswerKind) -> tuple[str, ...]:
    """The document an answer may come from: the best-ranked one, or, when it holds no
    sentence of the asked kind and the next document does, that one too."""
    if not passages:
        return ()
    top = passages[0].doc_id
    if kind == "other" or _doc_holds(passages, top, kind):
        return (top,)
    second = next((p.doc_id for p in passages[:4] if p.doc_id != top), None)
    if second is not None and _doc_holds(passages, second, kind):
        return (top, second)
    return (top,)


def _doc_holds(passages: Sequence[Passage], doc_id: str, kind: AnswerKind) -> bool:
    return any(
        holds_kind(sentence.text, kind)
        for passage in passages[:4]
        if passage.doc_id == doc_id
        for sentence in passage.sentences
    )


def select_sentences(
    question: str, passages: Sequence[Passage], kind: str = "other", strict: bool = False
) -> list[tuple[Passage, str]]:
    """The sentence that holds what was asked, its needed context and up to two followers.

    A sentence of the asked kind (a time span for "how long", a proportion for "how
    common", an allowed/not-allowed for "can I", steps for "how do I") ranks above one that
    only shares the topic; for the strict kinds, no such sentence means no answer.
    """
    if not passages:
        return []
    asked = cast(AnswerKind, kind if kind in _KINDS else "other")
    query = set(content_stems(question))
    candidates: list[_Candidate] = []
    # One document answers: the best-ranked one (its other passages may hold the sentence),
    # or the next one when only that one holds the kind of content asked for.
    docs = answering_documents(passages, asked)
    for rank, passage in enumerate(passages[:4]):
        if passage.doc_id not in docs:
            continue
        for sentence in passage.sentences:
            stems = set(content_stems(sentence.text))
            lexical = len(query & stems) / len(query) if query else 0.0
            score = 0.6 * sentence.score + 0.25 * passage.score + 0.15 * lexical
            if asked != "other" and holds_kind(sentence.text, asked):
                score += _KIND_BONUS
            if passage.doc_id != passages[0].doc_id:
                score -= _SECOND_DOCUMENT
            candidates.append(_Candidate(rank, passage, sentence, score))
    if not candidates:
        return []
    best = max(candidates, key=lambda c: c.score)
    if strict and not holds_kind(best.sentence.text, asked):
        # A duration or a proportion was asked: speak the best sentence that holds one, if
        # it is close to the best match; otherwise there is no answer, only a near miss.
        holding = [c for c in candidates if holds_kind(c.sentence.text, asked)]
        if not holding:
            return []
        runner_up = max(holding, key=lambda c: c.score)
        if runner_up.score < best.score - _STRICT_SLACK:
            return []
        best = runner_up
    sentences = best.passage.sentences
    positions = [best.sentence.position]
    if positions[0] > 0 and best.sentence.text.lower().startswith(_LEADS_BACK):
        # A sentence that points back ('This ...', 'It ...') needs the one before it.
        positions.insert(0, positions[0] - 1)
    words = sum(len(sentences[p].text.split()) for p in positions)
    followers = sorted(
        (
            c
            for c in candidates
            if c.passage.chunk_id == best.passage.chunk_id and c.sentence.position > positions[-1]
        ),
        key=lambda c: c.sentence.position,
    )
    for follower in followers:
        size = len(follower.sentence.text.split())
        kin = asked != "other" and holds_kind(follower.sentence.text, asked)
        if len(positions) >= _MAX_SENTENCES or words + size > _MAX_WORDS:
            break
        # The very next sentence often finishes the answer ("For most men, this is once...").
        adjacent = follower.sentence.position == positions[-1] + 1
        if not (kin and adjacent) and follower.score < best.score - (0.2 if kin else 0.12):
            break
        positions.append(follower.sentence.position)
        words += size
    following = positions[-1] + 1
    # A one-sentence answer sounds curt and often stops short: the guide's next sentence,
    # in the same section, carries on the same point.
    if (
        len(positions) == 1
        and following < len(sentences)
        and words + len(sentences[following].text.split()) <= _MAX_WORDS
    ):
        positions.append(following)
    return [(best.passage, sentences[p].text) for p in positions]


def attribution(title: str) -> str:
    return f"That comes from our guide, {title.rstrip('.')}."


class ExtractiveComposer:
    """The default composer: needs no model and no network."""

    name = "extractive"

    async def compose(self, request: CompositionRequest) -> AsyncIterator[ComposedSentence]:
        chosen = select_sentences(request.question, request.passages, request.kind, request.strict)
        if not chosen:
            raise CannotAnswer("no passage sentence matches the question")
        for passage, text in chosen:
            yield ComposedSentence(text, passage.doc_id)
        yield ComposedSentence(attribution(chosen[0][0].title), None)
