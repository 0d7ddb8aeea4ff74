"""The audit trail's hash chain: how a row is hashed, and the check that walks the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.people.tables import AuditRow

GENESIS = "0" * 64


def _moment(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def row_hash(row: AuditRow, prev_hash: str) -> str:
    """SHA-256 over the row's fields and the hash of the row before it."""
    fields = [
        prev_hash,
        _moment(row.at),
        row.actor,
        row.action,
        row.patient_id,
        row.resource,
        row.detail or "",
        row.outcome,
        row.key_id,
        row.source,
    ]
    canonical = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(rows: Iterable[AuditRow]) -> ChainReport:
    """Walk the rows in id order: each must link to the previous and hash to its own hash."""
    previous = GENESIS
    count = 0
    for row in rows:
        count += 1
        if row.prev_hash != previous:
            return ChainReport(count, row.id, "does not link to the row before it")
        if row.row_hash != row_hash(row, previous):
            return ChainReport(count, row.id, "its content does not match its hash")
        previous = row.row_hash
    return ChainReport(count, None, None)
