"""The database schema's version: Alembic migrations shipped in ``app/operations/migrations``.

Every table of the deployment (the escalation tables, the app's own, the alert outbox and the
APScheduler job store) is created and changed by the migrations only, on SQLite and
PostgreSQL alike:

- ``upgrade(url)`` brings a database to the newest revision (``aftercare db upgrade``). A
  database whose tables were made before migrations existed (by ``create_all``) is first
  stamped with the initial revision, which is exactly that schema.
- ``check_current(engine)`` raises ``SchemaNotCurrentError`` (naming the command to run) when
  the database is unmigrated, behind, or ahead of this version. The server and every command
  call it before touching a table; the embedded SQLite default is upgraded automatically
  instead (``prepare``).
- ``target_metadata()`` is what the migrations must produce; a test checks that a fresh
  upgrade differs from it in nothing (Alembic's autogenerate comparison).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Connection, Engine, MetaData, Table, inspect
from sqlalchemy.exc import DBAPIError, OperationalError

from escalation.database import Base

MIGRATIONS = Path(__file__).parent / "migrations"
INITIAL_REVISION = "0001"
UPGRADE_COMMAND = "aftercare db upgrade"
_UPGRADE_LOCK = 0x41667465  # the advisory lock that serialises upgrades on PostgreSQL
# Every module that declares tables on ``escalation.database.Base``.
TABLE_MODULES = (
    "escalation.record_tables",
    "escalation.outbox",
    "app.people.tables",
    "app.workspace.document_records",
    "app.conversation.turn_log",
    "app.operations.scheduler_lock",
)


class SchemaNotCurrentError(Exception):
    """The database is not at the revision this version of the software needs."""


class DatabaseUnavailableError(Exception):
    """The database did not answer (it is down, or the URL points nowhere)."""


def target_metadata() -> list[MetaData]:
    """Every table the deployment keeps, as the code declares them."""
    for module in TABLE_MODULES:
        importlib.import_module(module)  # registers the module's tables on Base
    return [Base.metadata, _jobstore_metadata()]


def _jobstore_metadata() -> MetaData:
    # The job store declares its own table; an in-memory engine is enough to read it.
    store = SQLAlchemyJobStore(url="sqlite://")
    table: Table = store.jobs_t
    store.engine.dispose()
    assert table.metadata is not None
    return table.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of the software ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


@contextmanager
def _answering(engine: Engine) -> Iterator[None]:
    """Report a database that does not answer as ``DatabaseUnavailableError``."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"the database {describe(engine)} is not reachable: {_first_line(exc)}"
        ) from exc


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with _answering(engine), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision``; returns the revision it is at afterwards."""
    with _answering(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two upgrades started at once run one after the other.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
        config = alembic_config(connection)
        context = MigrationContext.configure(connection)
        if context.get_current_revision() is None and _has_tables(connection):
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, revision)
    found = current(engine)
    assert found is not None
    return found


def downgrade(engine: Engine, revision: str) -> str | None:
    """Take the database back to ``revision`` (``"base"``: no tables); for operators' rollbacks."""
    with _answering(engine), engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
    return current(engine)


def _has_tables(connection: Connection) -> bool:
    return inspect(connection).has_table("escalations")


def check_current(engine: Engine) -> None:
    """Raise ``SchemaNotCurrentError`` unless the database is at this version's revision."""
    wanted = head()
    found = current(engine)
    where = describe(engine)
    if found == wanted:
        return
    if found is None:
        raise SchemaNotCurrentError(
            f"the database {where} is not migrated (no schema revision): "
            f"run `{UPGRADE_COMMAND}` first"
        )
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if found in known:
        raise SchemaNotCurrentError(
            f"the database {where} is at schema revision {found}, behind the {wanted} this "
            f"version needs: run `{UPGRADE_COMMAND}` first"
        )
    raise SchemaNotCurrentError(
        f"the database {where} is at schema revision {found}, which this version does not "
        f"know (a newer version migrated it): run the newer version, or restore a backup"
    )


def prepare(engine: Engine, auto_upgrade: bool) -> None:
    """Make sure the schema is current before anything uses it: upgrade it or refuse."""
    if not auto_upgrade:
        check_current(engine)
        return
    try:
        upgrade(engine)
    except (DBAPIError, DatabaseUnavailableError):
        # Another process started on the same SQLite file and migrated it first: fine once
        # the schema is current (DDL on SQLite is not fully transactional).
        time.sleep(0.5)
        if current(engine) != head():
            raise


def wait_until_reachable(engine: Engine, timeout_s: float, log: object = None) -> None:
    """Retry connecting until the database answers or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        try:
            with engine.connect():
                return
        except OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailableError(
                    f"the database {describe(engine)} is not reachable after "
                    f"{timeout_s:g} s: {_first_line(exc)}"
                ) from exc
            if callable(log):
                log(f"the database {describe(engine)} is not reachable yet; retrying")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def differences(engine: Engine) -> list[object]:
    """What the database's tables lack or have beyond ``target_metadata`` (empty: none)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target_metadata()))  # type: ignore[arg-type]


def describe(engine: Engine) -> str:
    """The database's URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
