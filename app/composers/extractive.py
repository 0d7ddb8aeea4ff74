"""Extractive answers: sentences taken word for word from the approved passages.

No sentence is ever written here except the closing attribution naming the document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from app.composers.base import CannotAnswer, ComposedSentence, CompositionRequest
from ingestion.search import Passage, ScoredSentence
from ingestion.text import content_stems

_MAX_SENTENCES = 3
_MAX_WORDS = 75
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


def select_sentences(question: str, passages: Sequence[Passage]) -> list[tuple[Passage, str]]:
    """The best-matching sentence, its needed context and up to two close followers."""
    if not passages:
        return []
    query = set(content_stems(question))
    candidates: list[_Candidate] = []
    # One document answers: the best-ranked one; its other passages may hold the sentence.
    for rank, passage in enumerate(passages[:4]):
        if passage.doc_id != passages[0].doc_id:
            continue
        for sentence in passage.sentences:
            stems = set(content_stems(sentence.text))
            lexical = len(query & stems) / len(query) if query else 0.0
            score = 0.6 * sentence.score + 0.25 * passage.score + 0.15 * lexical
            candidates.append(_Candidate(rank, passage, sentence, score))
    if not candidates:
        return []
    best = max(candidates, key=lambda c: c.score)
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
        if (
            len(positions) >= _MAX_SENTENCES
            or follower.score < best.score - 0.12
            or words + size > _MAX_WORDS
        ):
            break
        positions.append(follower.sentence.position)
        words += size
    return [(best.passage, sentences[p].text) for p in positions]


def attribution(title: str) -> str:
    return f"That comes from our guide, {title.rstrip('.')}."


class ExtractiveComposer:
    """The default composer: needs no model and no network."""

    name = "extractive"

    async def compose(self, request: CompositionRequest) -> AsyncIterator[ComposedSentence]:
        chosen = select_sentences(request.question, request.passages)
        if not chosen:
            raise CannotAnswer("no passage sentence matches the question")
        for passage, text in chosen:
            yield ComposedSentence(text, passage.doc_id)
        yield ComposedSentence(attribution(chosen[0][0].title), None)
