"""How long stored turns are kept: the clinic's retention period, applied daily."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from app.turn_log import TurnLog

log = logging.getLogger("aftercare")

JOB_ID = "turn-retention"


def expire_turns(turns: TurnLog, now: datetime, days: int) -> int:
    """Delete turns older than ``days`` (and the marks on them); 0 days keeps everything."""
    if days <= 0:
        return 0
    deleted = turns.delete_before(now - timedelta(days=days))
    if deleted:
        log.info("retention: %d stored turns older than %d days deleted", deleted, days)
    return deleted


def retention_job(turns: TurnLog, clock: Callable[[], datetime], days: int) -> Callable[[], int]:
    return lambda: expire_turns(turns, clock(), days)
