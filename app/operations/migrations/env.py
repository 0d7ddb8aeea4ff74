"""Alembic's entry point: runs the migrations on the connection
``app.operations.schema`` hands over.

Run through ``aftercare db upgrade`` (or ``app.operations.schema.upgrade``); with no
connection given (the ``alembic`` command line with ``-x url=...``) it connects to that URL itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.operations.schema import target_metadata
from escalation.database import make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        compare_type=True,
        # SQLite cannot alter most things in place: changes go through a table copy.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database: alembic -x url=<SQLAlchemy URL> ...")
    engine = make_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


main()
