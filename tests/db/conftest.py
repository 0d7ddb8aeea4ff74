"""Database fixtures: SQLite files, and fresh PostgreSQL databases on the test cluster.

PostgreSQL tests use ``AFTERCARE_TEST_POSTGRES_URL`` (``.ci/postgres.sh start`` prints it).
Without it they are skipped on a developer's machine but fail under CI (``CI=true``): CI
must never pass by skipping the engine it claims to test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import POSTGRES_ENV, fresh_postgres


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
    with fresh_postgres(postgres_admin_url()) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each tested kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aftercare.db'}"
    return str(request.getfixturevalue("postgres_url"))
