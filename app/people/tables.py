"""The app's own tables: staff keys, patients, page links and sessions, and the audit trail.

The audit trail is append-only: database triggers (SQLite and PostgreSQL) refuse to update
a chained row or delete any, and each row holds the hash of the one before it
(``prev_hash``, unique, so two writers can never both extend the same row), so a row
changed or removed behind the triggers' back breaks the chain that ``aftercare audit
verify`` walks.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Engine, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from escalation.database import Base


class StaffKeyRow(Base):
    __tablename__ = "staff_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PatientRow(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    surgery_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    approach: Mapped[str | None] = mapped_column(String(20), nullable=True)
    catheter_out_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # E.164; several patients may share a number (their dates of birth tell them apart).
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    preferred_contact: Mapped[str | None] = mapped_column(String(10), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PageTokenRow(Base):
    """A patient's one-time page link code, or the session token a page got for it."""

    __tablename__ = "page_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "link" | "session"
    patient_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    patient_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    resource: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(10), default="allowed")
    key_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


# A row may be updated once, while its hashes are still NULL: the insert takes the write
# lock first, then the row is chained to its predecessor (see ``People._append``).
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
    "WHEN OLD.row_hash IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
    "BEGIN IF TG_OP = 'UPDATE' AND OLD.row_hash IS NULL THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
]


def protect_audit(engine: Engine) -> None:
    """Install the append-only triggers (idempotent; run on every start)."""
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(
        engine.dialect.name, []
    )
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
