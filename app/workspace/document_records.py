"""The workspace's tables: approved versions of each document, the index's last word on
each file, and clinicians' marks on stored turns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.conversation.turn_log import TurnRow
from escalation.database import Base
from escalation.record_tables import UTCDateTime


class DocumentVersionRow(Base):
    """One approval or retirement: who, when, from which version to which, and the text."""

    __tablename__ = "document_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    before_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(120))
    actor_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    path: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)


class DocumentIndexRow(Base):
    """What the last ingestion runs said about one corpus file."""

    __tablename__ = "document_index_state"

    path: Mapped[str] = mapped_column(String(400), primary_key=True)
    doc_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20))
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    last_indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TurnMarkRow(Base):
    """A clinician's verdict on one stored turn; goes when the turn goes."""

    __tablename__ = "turn_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_row_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(TurnRow.id, ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
