"""The one scheduler of a deployment: a lock row in the deployment's database.

APScheduler's job store must never be shared by two schedulers, and re-ingestion, alert
delivery, retention and digests must each run once. So the process that runs the scheduler
(``aftercare worker``, or the all-in-one ``aftercare serve``) first takes the row
``scheduler_locks.name = "scheduler"``, naming its host and pid, and beats a heartbeat into
it. A second such process refuses to start and names the first. A holder whose heartbeat is
older than ``stale_after_s`` is presumed dead and its row is taken over.

Every change is a compare-and-set (an insert on the primary key, or an update that names the
holder and heartbeat it read), so it works the same on SQLite and PostgreSQL and two
processes racing for a stale row cannot both win. A holder that finds its row taken (its
heartbeat was late, a takeover happened) gets ``SchedulerLockLostError`` and must stop
scheduling. Heartbeats compare wall clocks of the hosts involved: keep them in sync (NTP).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app.errors import AppError
from escalation.database import Base

LOCK_NAME = "scheduler"


class SchedulerLockRow(Base):
    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SchedulerLockedError(AppError):
    """Another live process runs the deployment's scheduler."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(
            f"another process already runs the scheduler: pid {holder.pid} on {holder.host}, "
            f"since {holder.acquired_at.isoformat(timespec='seconds')}, last heartbeat "
            f"{holder.heartbeat_at.isoformat(timespec='seconds')}; stop it first (a dead "
            "one's lock is taken over once its heartbeat is stale)"
        )
        self.holder = holder


class SchedulerLockLostError(AppError):
    """This process no longer holds the scheduler lock (another took it over)."""


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    stale: bool


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class SchedulerLock:
    """This process's claim on the scheduler; ``acquire`` once, ``beat`` often, ``release``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        stale_after_s: float,
        clock: Callable[[], datetime] = _now,
        name: str = LOCK_NAME,
    ) -> None:
        self._sessions = sessions
        self._stale = timedelta(seconds=stale_after_s)
        self._clock = clock
        self._name = name
        self._token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held = False

    @property
    def beat_interval_s(self) -> float:
        return max(1.0, self._stale.total_seconds() / 4)

    def holder(self) -> LockHolder | None:
        """Who holds the lock now (possibly stale), or None."""
        with self._sessions() as session:
            row = session.get(SchedulerLockRow, self._name)
            return self._describe(row) if row is not None else None

    def acquire(self) -> None:
        """Take the lock, or raise ``SchedulerLockedError`` naming its live holder."""
        if self.held:
            return
        for _ in range(3):  # a lost race re-reads the row once or twice, never loops
            now = self._clock()
            with self._sessions() as session:
                row = session.get(SchedulerLockRow, self._name)
                if row is None:
                    session.add(self._row(now))
                    try:
                        session.commit()
                    except IntegrityError:
                        session.rollback()
                        continue
                    self.held = True
                    return
                seen = self._describe(row)
                if not seen.stale:
                    raise SchedulerLockedError(seen)
                taken = session.execute(
                    update(SchedulerLockRow)
                    .where(
                        SchedulerLockRow.name == self._name,
                        SchedulerLockRow.holder == row.holder,
                        SchedulerLockRow.heartbeat_at == row.heartbeat_at,
                    )
                    .values(
                        holder=self._token,
                        host=self.host,
                        pid=self.pid,
                        acquired_at=now,
                        heartbeat_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                if int(getattr(taken, "rowcount", 0) or 0) == 1:
                    self.held = True
                    return
        holder = self.holder()
        if holder is None:
            raise SchedulerLockLostError("the scheduler lock kept changing hands; try again")
        raise SchedulerLockedError(holder)

    def beat(self) -> None:
        """Refresh the heartbeat; ``SchedulerLockLostError`` when the row is no longer ours."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(SchedulerLockRow)
                .where(SchedulerLockRow.name == self._name, SchedulerLockRow.holder == self._token)
                .values(heartbeat_at=self._clock())
                .execution_options(synchronize_session=False)
            )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            self.held = False
            raise SchedulerLockLostError(
                "the scheduler lock was taken over by another process (this one's heartbeat "
                "was late); this process stops scheduling"
            )

    def release(self) -> None:
        """Give the lock up (only ours: a row another process took over stays)."""
        if not self.held:
            return
        with self._sessions.begin() as session:
            session.execute(
                delete(SchedulerLockRow).where(
                    SchedulerLockRow.name == self._name, SchedulerLockRow.holder == self._token
                )
            )
        self.held = False

    def _row(self, now: datetime) -> SchedulerLockRow:
        return SchedulerLockRow(
            name=self._name,
            holder=self._token,
            host=self.host,
            pid=self.pid,
            acquired_at=now,
            heartbeat_at=now,
        )

    def _describe(self, row: SchedulerLockRow) -> LockHolder:
        beat = _utc(row.heartbeat_at)
        # On this host a holder whose process is gone (killed, crashed) is known to be dead:
        # a restart takes over at once instead of waiting for its heartbeat to go stale.
        gone = row.host == self.host and row.pid != self.pid and not _running(row.pid)
        return LockHolder(
            host=row.host,
            pid=row.pid,
            acquired_at=_utc(row.acquired_at),
            heartbeat_at=beat,
            stale=gone or self._clock() - beat > self._stale,
        )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
