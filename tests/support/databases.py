"""A fresh PostgreSQL database per test, on the cluster ``AFTERCARE_TEST_POSTGRES_URL`` names.

Tests never share the administrative database: each gets a new one, dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url

POSTGRES_ENV = "AFTERCARE_TEST_POSTGRES_URL"


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    admin = make_url(admin_url)
    name = f"t_{uuid.uuid4().hex[:16]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def migrate(env: dict[str, str]) -> None:
    """``aftercare db upgrade`` as an operator runs it before starting any process."""
    subprocess.run(
        [sys.executable, "-m", "app.operations.cli", "db", "upgrade"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=300,
    )
