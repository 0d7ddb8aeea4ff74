"""The gaps report: what patients asked that the guides could not answer, grouped by meaning.

Its questions are the turns that escalated for low confidence (an escalated turn whose
retrieval ran) and the turns clinicians marked "wrong" or "should have answered". They
are embedded with the assistant's own model and grouped by average-linkage clustering
on cosine distance (scikit-learn), largest groups first. Each group names the closest
document and section, and how many nurse calls its questions booked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from app.conversation.turn_log import StoredTurn, TurnFilter, TurnLog
from app.conversation.turn_marks import TurnMarks
from ingestion.embedding import Embedder
from ingestion.search import CorpusSearch

_MAX_TURNS = 20_000
EXAMPLES = 5
CSV_COLUMNS = (
    "group",
    "questions",
    "nurse_calls_booked",
    "marked_wrong",
    "closest_document",
    "closest_title",
    "closest_section",
    "closest_score",
    "examples",
)


@dataclass(frozen=True)
class GapQuestion:
    turn_id: str
    at: datetime
    patient_id: str | None
    question: str
    confidence: float | None
    escalation_id: str | None
    mark: str | None


@dataclass(frozen=True)
class GapGroup:
    size: int
    examples: list[str]
    questions: list[GapQuestion]
    nurse_calls: int
    marked: int
    closest_doc_id: str | None
    closest_title: str | None
    closest_section: str | None
    closest_score: float | None


def group_by_meaning(vectors: np.ndarray, distance: float) -> list[list[int]]:
    """Indices grouped so that members lie within ``distance`` (cosine, average linkage);
    largest groups first, ties in order of first appearance."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


class GapsReport:
    def __init__(
        self,
        turns: TurnLog,
        marks: TurnMarks,
        embedder: Callable[[], Embedder],
        search: Callable[[], CorpusSearch],
        booked: Callable[[str], Awaitable[bool]],
        distance: float,
    ) -> None:
        self._turns = turns
        self._marks = marks
        self._embedder = embedder
        self._search = search
        self._booked = booked
        self._distance = distance

    def questions(self, since: datetime | None, until: datetime | None) -> list[GapQuestion]:
        escalated = self._turns.query(
            TurnFilter(outcome="escalated", since=since, until=until), limit=_MAX_TURNS
        )
        chosen: dict[str, GapQuestion] = {
            t.id: _question(t, None) for t in escalated if t.confidence is not None
        }
        for mark in self._marks.marked(("wrong", "should_have_answered")):
            turn = self._turns.get(mark.turn_id)
            if turn is None or (since and turn.at < since) or (until and turn.at >= until):
                continue
            chosen[turn.id] = _question(turn, mark.kind)
        return sorted(chosen.values(), key=lambda q: q.at)

    async def build(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[GapGroup]:
        questions = self.questions(since, until)
        if not questions:
            return []
        vectors = np.asarray(self._embedder().embed([q.question for q in questions]))
        groups: list[GapGroup] = []
        for members in group_by_meaning(vectors, self._distance):
            chosen = [questions[i] for i in members]
            centre = vectors[members].mean(axis=0)
            nearest = members[int(np.argmax(vectors[members] @ centre))]
            passage = next(iter(self._search().search(questions[nearest].question).passages), None)
            calls = 0
            for escalation_id in {q.escalation_id for q in chosen if q.escalation_id}:
                calls += int(await self._booked(escalation_id))
            groups.append(
                GapGroup(
                    size=len(chosen),
                    examples=_examples(chosen, questions[nearest].question),
                    questions=chosen,
                    nurse_calls=calls,
                    marked=sum(1 for q in chosen if q.mark),
                    closest_doc_id=passage.doc_id if passage else None,
                    closest_title=passage.title if passage else None,
                    closest_section=passage.section if passage else None,
                    closest_score=round(passage.score, 3) if passage else None,
                )
            )
        return groups


def as_csv(groups: Sequence[GapGroup]) -> str:
    """One row per group; patient text can never become a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for number, group in enumerate(groups, start=1):
        writer.writerow(
            [
                number,
                group.size,
                group.nurse_calls,
                group.marked,
                group.closest_doc_id or "",
                _cell(group.closest_title or ""),
                _cell(group.closest_section or ""),
                "" if group.closest_score is None else f"{group.closest_score:.3f}",
                _cell(" | ".join(group.examples)),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _examples(questions: Sequence[GapQuestion], first: str) -> list[str]:
    seen = [first]
    for q in questions:
        if len(seen) >= EXAMPLES:
            break
        if q.question not in seen:
            seen.append(q.question)
    return seen


def _question(turn: StoredTurn, mark: str | None) -> GapQuestion:
    return GapQuestion(
        turn_id=turn.id,
        at=turn.at,
        patient_id=turn.patient_id,
        question=turn.question,
        confidence=turn.confidence,
        escalation_id=turn.escalation_id,
        mark=mark,
    )
