"""Clinicians' marks on stored turns: "wrong" or "should have answered", with a note."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.conversation.turn_log import TurnRow
from app.errors import UnknownTurnError
from app.workspace.document_records import TurnMarkRow

MarkKind = Literal["wrong", "should_have_answered"]


@dataclass(frozen=True)
class TurnMark:
    id: int
    turn_id: str
    kind: str
    note: str
    actor: str
    at: datetime


class TurnMarks:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def add(self, turn_id: str, kind: MarkKind, note: str, actor: str) -> TurnMark:
        with self._sessions.begin() as session:
            if session.get(TurnRow, turn_id) is None:
                raise UnknownTurnError(turn_id)
            row = TurnMarkRow(
                turn_row_id=turn_id, kind=kind, note=note, actor=actor, at=self._clock()
            )
            session.add(row)
            session.flush()
            return _mark(row)

    def for_turns(self, turn_ids: Iterable[str]) -> dict[str, list[TurnMark]]:
        ids = list(turn_ids)
        if not ids:
            return {}
        found: dict[str, list[TurnMark]] = {}
        with self._sessions() as session:
            rows = session.scalars(
                select(TurnMarkRow).where(TurnMarkRow.turn_row_id.in_(ids)).order_by(TurnMarkRow.id)
            )
            for row in rows:
                found.setdefault(row.turn_row_id, []).append(_mark(row))
        return found

    def marked(self, kinds: Iterable[str]) -> list[TurnMark]:
        with self._sessions() as session:
            rows = session.scalars(
                select(TurnMarkRow)
                .where(TurnMarkRow.kind.in_(list(kinds)))
                .order_by(TurnMarkRow.id)
            )
            return [_mark(r) for r in rows]


def _mark(row: TurnMarkRow) -> TurnMark:
    return TurnMark(row.id, row.turn_row_id, row.kind, row.note, row.actor, row.at)
