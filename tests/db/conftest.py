"""Database fixtures: SQLite files, and fresh PostgreSQL databases on the test cluster.

PostgreSQL tests use ``AFTERCARE_TEST_POSTGRES_URL`` (``.ci/postgres.sh start`` prints it).
Without it they are skipped on a developer's machine but fail under CI (``CI=true``): CI
must never pass by skipping the engine it claims to test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

POSTGRES_ENV = "AFTERCARE_TEST_POSTGRES_URL"


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{POSTGRES_ENV} is not set under CI: start PostgreSQL (.ci/postgres.sh)")
        pytest.skip(f'{POSTGRES_ENV} is not set (run: eval "$(.ci/postgres.sh start)")')
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = make_url(postgres_admin_url())
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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each tested kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aftercare.db'}"
    return str(request.getfixturevalue("postgres_url"))
