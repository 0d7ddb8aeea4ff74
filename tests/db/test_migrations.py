"""The migrations make exactly the tables the code declares, on SQLite and PostgreSQL, and
the server refuses a database they have not brought up to date."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import app
import escalation
from app.main import build_services
from app.operations import schema
from app.settings import Settings
from escalation.database import Base, make_engine

REPO = Path(__file__).parents[2]


def settings_for(tmp_path: Path, url: str | None, **extra: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=url, **extra
    )


def import_every_module() -> None:
    """Every module of the packages, so a table declared anywhere is on the metadata."""
    for package in (app, escalation):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def test_a_fresh_upgrade_makes_exactly_the_declared_tables(database_url: str) -> None:
    import_every_module()
    engine = make_engine(database_url)
    assert schema.upgrade(engine) == schema.head()
    assert schema.differences(engine) == []
    declared = set(Base.metadata.tables) | {"apscheduler_jobs", "alembic_version"}
    assert set(inspect(engine).get_table_names()) == declared
    # Nothing declared outside the modules the migrations' target lists.
    listed = {t for metadata in schema.target_metadata() for t in metadata.tables}
    assert set(Base.metadata.tables) <= listed


def test_every_revision_goes_down_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    assert schema.downgrade(engine, "base") is None
    assert inspect(engine).get_table_names() == ["alembic_version"]
    schema.upgrade(engine)
    assert schema.differences(engine) == []


def test_the_audit_trail_is_append_only_after_migrating(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (at, actor, action, resource, detail, outcome, row_hash)"
                " VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c', '', 'allowed', 'h')"
            )
        )
    for statement in ("DELETE FROM audit_events", "UPDATE audit_events SET actor = 'x'"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))


def test_an_unmigrated_postgres_database_is_refused_naming_the_command(
    postgres_url: str, tmp_path: Path
) -> None:
    with pytest.raises(schema.SchemaNotCurrentError, match="aftercare db upgrade"):
        build_services(settings_for(tmp_path, postgres_url))
    engine = make_engine(postgres_url)
    assert inspect(engine).get_table_names() == []  # refused before touching anything


def test_a_database_behind_this_version_is_refused(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, "0001")
    settings = settings_for(tmp_path, database_url, database_auto_upgrade=False)
    with pytest.raises(schema.SchemaNotCurrentError) as refused:
        build_services(settings)
    assert "at schema revision 0001, behind" in str(refused.value)
    assert "aftercare db upgrade" in str(refused.value)


def test_a_database_from_a_newer_version_is_refused(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    # Even the embedded default does not "upgrade" a database it cannot read.
    with pytest.raises(Exception, match="9999"):
        build_services(settings_for(tmp_path, database_url))


def test_the_embedded_default_is_migrated_on_start(tmp_path: Path) -> None:
    services = build_services(settings_for(tmp_path, None))
    assert schema.current(services.engine) == schema.head()
    assert schema.differences(services.engine) == []


def test_tables_made_before_migrations_are_adopted_with_their_rows(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, "0001")  # exactly what `create_all` made before migrations
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO escalations (id, created_at, updated_at, question, conversation,"
                " passages, reason, priority, status, needs_attention, turn_count) VALUES"
                " ('e-1', '2025-01-02 03:04:05', '2025-01-02 03:04:05', 'q', '[]', '[]',"
                " 'patient_request', 'routine', 'open', false, 1)"
            )
        )
    assert schema.current(engine) is None
    assert schema.upgrade(engine) == schema.head()
    with engine.connect() as connection:
        alerted = connection.execute(text("SELECT alerted_at FROM escalations")).scalar_one()
    # An escalation from before is not mistaken for one a crash left unalerted.
    assert str(alerted).startswith("2025-01-02 03:04:05")
    assert schema.differences(engine) == []


def aftercare(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.operations.cli", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_db_current_and_upgrade_commands(postgres_url: str, tmp_path: Path) -> None:
    env = {"AFTERCARE_DATABASE_URL": postgres_url, "AFTERCARE_DATA_DIR": str(tmp_path)}
    before = aftercare("db", "current", env=env)
    assert before.returncode == 1
    assert json.loads(before.stdout) | {"database": ""} == {
        "database": "",
        "current": None,
        "head": schema.head(),
        "up_to_date": False,
    }
    refused = aftercare("serve", "--port", "1", env=env)
    assert refused.returncode == 1
    assert "is not migrated" in refused.stderr and "`aftercare db upgrade`" in refused.stderr
    assert "Traceback" not in refused.stderr
    upgraded = aftercare("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["to"] == schema.head()
    after = aftercare("db", "current", env=env)
    assert after.returncode == 0 and json.loads(after.stdout)["up_to_date"] is True
    again = aftercare("db", "upgrade", env=env)  # a second upgrade changes nothing
    assert json.loads(again.stdout)["from"] == schema.head()


def test_a_database_that_does_not_answer_is_retried_then_refused(tmp_path: Path) -> None:
    from tests.support.loopback import free_port

    url = f"postgresql+psycopg://nobody:secret-word@127.0.0.1:{free_port()}/none"
    env = {
        "AFTERCARE_DATABASE_URL": url,
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_DATABASE_WAIT_S": "2",
    }
    served = aftercare("serve", "--port", "1", env=env)
    assert served.returncode == 1
    assert "not reachable after 2 s" in served.stderr
    assert "retrying" in served.stderr
    assert "secret-word" not in served.stderr  # the password never reaches the output
    assert "Traceback" not in served.stderr
    upgrade = aftercare("db", "upgrade", env=env)
    assert upgrade.returncode == 1 and "is not reachable" in upgrade.stderr
    assert "secret-word" not in upgrade.stderr


def test_patients_survive_an_upgrade(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, "0001")
    settings = settings_for(tmp_path, database_url, database_auto_upgrade=True)
    services = build_services(settings)
    services.people.add_patient("p-1", "Mr One", date(2025, 1, 2))
    schema.downgrade(engine, "0001")
    schema.upgrade(engine)
    assert build_services(settings).people.patient("p-1").display_name == "Mr One"
