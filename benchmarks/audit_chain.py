"""What the audit trail's hash chain costs: chained audit rows against plain inserts of the
same rows into an unchained table, in one run on one SQLite database, and the time to
verify the chain.

    python benchmarks/audit_chain.py [--rows 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.people.directory import People
from app.people.tables import protect_audit
from escalation.database import create_tables, make_engine, make_sessionmaker


class _Plain(DeclarativeBase):
    pass


class PlainRow(_Plain):
    __tablename__ = "plain_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    patient_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resource: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        create_tables(engine)
        protect_audit(engine)
        _Plain.metadata.create_all(engine)
        sessions = make_sessionmaker(engine)
        people = People(sessions, lambda: datetime.now(UTC))

        def chained(n: int) -> None:
            people.audit(f"patient:p{n % 50}", "ask", "turn", f"p{n % 50}", "api")

        def plain(n: int) -> None:
            with sessions.begin() as session:
                session.add(
                    PlainRow(
                        at=datetime.now(UTC),
                        actor=f"patient:p{n % 50}",
                        action="ask",
                        patient_id=f"p{n % 50}",
                        resource="turn",
                        detail="api",
                    )
                )

        figures = {}
        for name, write in (("plain", plain), ("chained", chained)):
            write(0)  # warm-up
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.threads) as pool:
                list(pool.map(write, range(args.rows)))
            figures[name] = time.perf_counter() - started
        report = people.verify_audit()
        started = time.perf_counter()
        people.verify_audit()
        verify_s = time.perf_counter() - started
    print(f"{args.rows} rows from {args.threads} threads, SQLite (WAL)")
    for name, seconds in figures.items():
        per_row = seconds * 1000 / args.rows
        print(f"  {name:<8} {args.rows / seconds:8.0f} rows/s  ({per_row:.2f} ms/row)")
    print(f"  chained / plain time: {figures['chained'] / figures['plain']:.2f}x")
    print(f"  verify: {report.rows} rows in {verify_s * 1000:.0f} ms, chain ok: {report.ok}")
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
