"""One patient across two calls days apart: identified by number and spoken date of birth,
a stage-aware answer on day 6, a booking, and on the second call the booking and the first
call's context."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import yaml

from app.main import build_services
from escalation.clinic import DEFAULT_CLINIC_FILE
from tests.app.conftest import PLATFORM_KEY, LiveApp, make_settings, serve
from tests.platforms.conftest import PlatformApp, sse, vendor

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday morning
SURGERY = START.date() - timedelta(days=6)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=1)


@pytest.fixture(scope="module")
def two_calls(
    tmp_path_factory: pytest.TempPathFactory, embedder: object
) -> Iterator[tuple[PlatformApp, Clock]]:
    root = tmp_path_factory.mktemp("two-calls")
    clinic = yaml.safe_load(DEFAULT_CLINIC_FILE.read_text())
    # The care team is away for three days: the booking lands after the second call.
    clinic["care_team"]["closures"] = [
        {"start": START.date().isoformat(), "end": (START.date() + timedelta(days=2)).isoformat()}
    ]
    clinic_file = root / "clinic.yaml"
    clinic_file.write_text(yaml.safe_dump(clinic))
    settings = make_settings(root, clinic_config=clinic_file, platform_settle_s=0.1)
    clock = Clock(START)
    services = build_services(settings, clock=clock)
    services.embedder = embedder  # type: ignore[assignment]
    _, coordinator_key = services.people.add_staff("Coordinator", "coordinator")
    services.people.add_patient(
        "pt-walter",
        "Walter Grey",
        surgery_date=SURGERY,
        approach="robotic",
        catheter_out_on=SURGERY + timedelta(days=10),
        phone="+447912345670",
        date_of_birth=date(1949, 12, 24),
    )
    server = serve(settings, services)
    base = server.url
    live = LiveApp(base, services, coordinator_key, "", PLATFORM_KEY, settings)
    yield PlatformApp(live, "pt-walter"), clock
    server.stop(timeout=30)


def call(call_id: str) -> dict[str, Any]:
    request = copy.deepcopy(vendor("vapi")["request"])
    request["call"]["id"] = call_id
    request["customer"]["number"] = "07912 345670"  # as the carrier gave it
    request["call"]["customer"]["number"] = "07912 345670"
    return request


def say(app: PlatformApp, body: dict[str, Any], words: str, clock: Clock | None = None) -> str:
    if clock is not None:
        clock.tick()  # turns are stored with the time they were said
    body["messages"].append({"role": "user", "content": words})
    text, _, _ = sse(app.post(body))
    body["messages"].append({"role": "assistant", "content": text})
    return text


def test_a_patient_across_two_calls(two_calls: tuple[PlatformApp, Clock]) -> None:
    app, clock = two_calls
    first = call("first-call")
    greeting, _, _ = sse(app.post(first))
    assert "date of birth" in greeting
    assert "Walter" in say(app, first, "twenty-fourth of December forty-nine", clock)

    catheter = say(app, first, "how long will the catheter stay in?", clock)
    assert "day 6" in catheter and "due out" in catheter  # his stage, from his record
    assert "7 to 10" in catheter
    assert "night bag" in say(app, first, "which catheter bag should I use?", clock)

    before = app.ids()
    booked = say(app, first, "I'd like to speak to a nurse please", clock)
    new = app.new_since(before)
    assert len(new) == 1 and new[0]["patient_id"] == "pt-walter"
    appointment = new[0]["appointment"]
    assert appointment is not None and "booked you a call" in booked
    clinician = appointment["clinician_name"]

    clock.now = START + timedelta(days=2)
    second = call("second-call")
    greeting, _, _ = sse(app.post(second))
    assert "date of birth" in greeting
    welcome = say(app, second, "24/12/49", clock)
    assert "Walter" in welcome and f"Your call with {clinician} is" in welcome

    follow_up = say(app, second, "and at night?", clock)
    assert "night bag" in follow_up
    deadline = time.monotonic() + 20  # turns are stored off the answer's path
    turns = app.live.services.turns.recent(conversation_id="vapi:second-call")
    while not turns and time.monotonic() < deadline:
        time.sleep(0.1)
        turns = app.live.services.turns.recent(conversation_id="vapi:second-call")
    assert [t.question for t in turns] == ["which catheter bag should I use, and at night?"]
    assert turns[0].patient_id == "pt-walter" and turns[0].outcome == "answered"


def test_without_identification_the_follow_up_has_no_context(
    two_calls: tuple[PlatformApp, Clock],
) -> None:
    app, clock = two_calls
    stranger = call("stranger-call")
    stranger["customer"]["number"] = stranger["call"]["customer"]["number"] = "+14155550100"
    text = say(app, stranger, "how long will the catheter stay in?", clock)
    assert "day 6" not in text and "Walter" not in text
