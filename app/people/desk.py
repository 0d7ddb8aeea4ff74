"""The people records on their own: staff, patients, keys and the audit chain.

Commands that need no model or index (`aftercare staff`, `aftercare patient add`, `audit
verify`) open only this, so they import the database layer and nothing of the assistant,
and start in a fraction of a second. The full deployment builds the same object first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.operations import schema
from app.people.directory import People
from app.settings import Settings
from escalation.clinic import ClinicConfig, load_clinic_config
from escalation.database import make_engine, make_sessionmaker


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PeopleDesk:
    settings: Settings
    clinic: ClinicConfig
    engine: Engine
    sessions: sessionmaker[Session]
    people: People


def open_people(settings: Settings, clock: Callable[[], datetime] = utc_now) -> PeopleDesk:
    """The database opened and migrated (or refused, see ``schema.prepare``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clinic = load_clinic_config(settings.clinic_config)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    schema.prepare(engine, auto_upgrade=settings.upgrades_database)
    return PeopleDesk(settings, clinic, engine, sessions, People(sessions, clock))
