"""Escalations kept on local disk while the database cannot take them.

When the database is down during a turn, the patient still hears his instruction and the
escalation is written here, one file per escalation (written to a temporary name, then
renamed, so a crash never leaves half a file). Recovery replays the files in the order
they were written once the database answers again; opening is idempotent on the
escalation's key, so a replay that is interrupted and repeated books nothing twice.
Files hold the question (health data): the folder lives in the deployment's data folder,
readable by the service's user only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from escalation.record_models import NewEscalation

log = logging.getLogger("aftercare.escalation")


class EscalationSpool:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def put(self, new: NewEscalation) -> Path:
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = new.idempotency_key or f"spooled:{time.time_ns()}"
        name = f"{time.time_ns():020d}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        final = self._folder / name
        partial = final.with_suffix(".part")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(new.model_dump_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
        return final

    def pending(self) -> Iterator[tuple[Path, NewEscalation]]:
        """Spooled escalations, oldest first; an unreadable file is set aside, not lost."""
        if not self._folder.is_dir():
            return
        for path in sorted(self._folder.glob("*.json")):
            try:
                yield path, NewEscalation.model_validate_json(path.read_text(encoding="utf-8"))
            except (OSError, ValidationError, ValueError):
                log.error("spooled escalation %s is unreadable; kept as .bad", path.name)
                path.replace(path.with_suffix(".bad"))

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(list(self._folder.glob("*.json"))) if self._folder.is_dir() else 0
