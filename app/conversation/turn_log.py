"""Every turn as the patient heard it: what was asked, what was said, from which guides.

One row per turn, written off the event loop after the turn completes. Clinicians review
these rows, a returning patient's recent turns give follow-up questions their context, and
the retention job deletes old rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app.conversation.turn import TurnResult
from escalation.database import Base
from escalation.record_tables import UTCDateTime


class TurnRow(Base):
    __tablename__ = "conversation_turns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    turn_id: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    red_flag_rule: Mapped[str | None] = mapped_column(String(80), nullable=True)
    escalation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sources_json: Mapped[str] = mapped_column(Text, default="[]")
    timings_json: Mapped[str] = mapped_column(Text, default="{}")
    total_ms: Mapped[float] = mapped_column(Float, default=0.0)
    feeling: Mapped[str | None] = mapped_column(String(20), nullable=True)


@dataclass(frozen=True)
class TurnSource:
    doc_id: str
    version: str
    section: str
    score: float


@dataclass(frozen=True)
class StoredTurn:
    id: str
    at: datetime
    turn_id: str
    conversation_id: str | None
    channel: str
    patient_id: str | None
    question: str
    answer: str
    outcome: str
    confidence: float | None
    red_flag_rule: str | None
    escalation_id: str | None
    sources: tuple[TurnSource, ...]
    timings_ms: dict[str, float]
    feeling: str | None = None
    """Fear, frustration, anger at the care team...: coordinators and clinicians see it."""


@dataclass(frozen=True)
class TurnFilter:
    """Which stored turns to list; every field is optional and they combine with AND."""

    patient_id: str | None = None
    conversation_id: str | None = None
    outcome: str | None = None
    doc_id: str | None = None
    doc_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None


class TurnLog:
    """Reads and writes the ``conversation_turns`` table."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def record(
        self,
        result: TurnResult,
        *,
        turn_id: str,
        channel: str,
        patient_id: str | None,
        conversation_id: str | None,
    ) -> str:
        sources = [
            {"doc_id": s.doc_id, "version": s.version, "section": s.section, "score": s.score}
            for s in result.sources
        ]
        row = TurnRow(
            id=uuid.uuid4().hex,
            at=self._clock(),
            turn_id=turn_id,
            conversation_id=conversation_id,
            channel=channel,
            patient_id=patient_id,
            question=result.question,
            answer=result.answer,
            outcome=result.outcome,
            confidence=result.confidence,
            red_flag_rule=result.red_flag.rule if result.red_flag else None,
            escalation_id=result.escalation.id if result.escalation else None,
            sources_json=json.dumps(sources),
            timings_json=json.dumps(result.timings_ms),
            total_ms=result.timings_ms.get("total", 0.0),
            feeling=result.feeling,
        )
        with self._sessions.begin() as session:
            session.add(row)
        return row.id

    def query(self, where: TurnFilter, limit: int = 50, offset: int = 0) -> list[StoredTurn]:
        """Newest first."""
        query = select(TurnRow).order_by(TurnRow.at.desc(), TurnRow.id)
        if where.patient_id is not None:
            query = query.where(TurnRow.patient_id == where.patient_id)
        if where.conversation_id is not None:
            query = query.where(TurnRow.conversation_id == where.conversation_id)
        if where.outcome is not None:
            query = query.where(TurnRow.outcome == where.outcome)
        if where.since is not None:
            query = query.where(TurnRow.at >= where.since)
        if where.until is not None:
            query = query.where(TurnRow.at < where.until)
        if where.min_confidence is not None:
            query = query.where(TurnRow.confidence >= where.min_confidence)
        if where.max_confidence is not None:
            query = query.where(TurnRow.confidence < where.max_confidence)
        if where.doc_id is not None:
            # A cheap pre-filter in SQL; the exact match on the parsed sources follows.
            query = query.where(TurnRow.sources_json.contains(f'"doc_id": "{where.doc_id}"'))
        with self._sessions() as session:
            rows = list(session.scalars(query))
        turns = [_stored(row) for row in rows]
        if where.doc_id is not None:
            turns = [
                t
                for t in turns
                if any(
                    s.doc_id == where.doc_id
                    and (where.doc_version is None or s.version == where.doc_version)
                    for s in t.sources
                )
            ]
        return turns[offset : offset + limit]

    def get(self, row_id: str) -> StoredTurn | None:
        """One stored turn by its row id."""
        with self._sessions() as session:
            row = session.get(TurnRow, row_id)
        return _stored(row) if row is not None else None

    def recent(
        self, *, patient_id: str | None = None, conversation_id: str | None = None, limit: int = 6
    ) -> list[StoredTurn]:
        """The last ``limit`` turns of a patient or a conversation, oldest first."""
        if patient_id is None and conversation_id is None:
            return []
        turns = self.query(
            TurnFilter(patient_id=patient_id, conversation_id=conversation_id), limit=limit
        )
        return list(reversed(turns))

    def delete_before(self, cutoff: datetime) -> int:
        with self._sessions.begin() as session:
            deleted = session.execute(delete(TurnRow).where(TurnRow.at < cutoff))
        return int(getattr(deleted, "rowcount", 0) or 0)

    def erase_patient(self, patient_id: str) -> int:
        with self._sessions.begin() as session:
            deleted = session.execute(delete(TurnRow).where(TurnRow.patient_id == patient_id))
        return int(getattr(deleted, "rowcount", 0) or 0)


def _stored(row: TurnRow) -> StoredTurn:
    sources: list[dict[str, Any]] = json.loads(row.sources_json or "[]")
    return StoredTurn(
        id=row.id,
        at=row.at,
        turn_id=row.turn_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        patient_id=row.patient_id,
        question=row.question,
        answer=row.answer,
        outcome=row.outcome,
        confidence=row.confidence,
        red_flag_rule=row.red_flag_rule,
        escalation_id=row.escalation_id,
        sources=tuple(
            TurnSource(str(s["doc_id"]), str(s["version"]), str(s["section"]), float(s["score"]))
            for s in sources
        ),
        timings_ms={str(k): float(v) for k, v in json.loads(row.timings_json or "{}").items()},
        feeling=row.feeling,
    )
