"""One patient's data exported and erased by staff; old data removed by the retention job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.conversation.turn import TurnResult
from app.main import build_services
from app.people.governance import apply_retention
from escalation.record_models import ERASED, NewEscalation
from tests.app.conftest import LiveApp, make_settings


def test_staff_export_then_erase_one_patients_data(live_app: LiveApp) -> None:
    people = live_app.services.people
    _, admin_key = people.add_staff("Governance admin", "admin")
    _, key = people.add_patient("p-gov", "Governed Patient")
    asked = httpx.post(
        f"{live_app.base_url}/v1/ask",
        json={"question": "what dose of metformin should I take?", "patient_id": "p-gov"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ).json()
    assert asked["outcome"] == "escalated"
    admin = {"Authorization": f"Bearer {admin_key}"}
    coordinator = {"Authorization": f"Bearer {live_app.coordinator_key}"}
    with httpx.Client(base_url=live_app.base_url, timeout=60) as client:
        assert client.get("/v1/patients/p-gov/export", headers=coordinator).status_code == 403
        assert client.get("/v1/patients/p-gov/export").status_code == 401
        assert client.get("/v1/patients/nobody/export", headers=admin).status_code == 404
        for _ in range(50):  # the turn is stored off the event loop
            exported = client.get("/v1/patients/p-gov/export", headers=admin).json()
            if exported["turns"]:
                break
        assert exported["patient"]["display_name"] == "Governed Patient"
        assert exported["turns"][0]["question"] == "what dose of metformin should I take?"
        assert exported["escalations"][0]["question"] == "what dose of metformin should I take?"
        assert any(row["action"] == "ask" for row in exported["access_log"])

        erased = client.delete("/v1/patients/p-gov", headers=admin)
        assert erased.status_code == 200, erased.text
        assert erased.json()["turns"] >= 1 and erased.json()["escalations"] == 1
        assert client.delete("/v1/patients/p-gov", headers=admin).status_code == 404
        again = client.post(
            "/v1/ask",
            json={"question": "hello", "patient_id": "p-gov"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert again.status_code == 401
    assert live_app.services.turns.recent(patient_id="p-gov") == []
    escalation = live_app.services.escalations._repository.of_patient("p-gov")[0]
    assert escalation.question == ERASED and escalation.conversation == []
    trail = people.audit_trail("p-gov")
    assert {"patient.export", "patient.erase"} <= {r.action for r in trail}
    assert all("metformin" not in r.detail for r in trail)
    assert people.verify_audit().ok


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("retention_days", [30])
async def test_retention_removes_old_turns_and_closed_escalation_texts(
    tmp_path: Path, retention_days: int
) -> None:
    clock = Clock()
    services = build_services(
        make_settings(tmp_path, security={"retention_days": retention_days}), clock=clock
    )
    people = services.people
    people.add_patient("p-old", "Old Patient")

    def turn(question: str) -> None:
        services.turns.record(
            TurnResult(question=question, outcome="smalltalk", answer="Hello.", confidence=None),
            turn_id=question,
            channel="api",
            patient_id="p-old",
            conversation_id=None,
        )

    def escalation(question: str) -> NewEscalation:
        return NewEscalation(
            patient_id="p-old", question=question, reason="low_confidence", priority="routine"
        )

    turn("an old question")
    closed = await services.escalations.open(escalation("an old worry"))
    await services.escalations.resolve(closed.id, "staff:s1")
    still_open = await services.escalations.open(
        NewEscalation(
            patient_id="p-old",
            question="an open worry",
            reason="patient_request",
            priority="routine",
        )
    )
    clock.now += timedelta(days=retention_days + 1)
    turn("a recent question")
    counts = await apply_retention(services)
    assert counts["turns"] == 1 and counts["escalations"] == 1
    assert [t.question for t in services.turns.recent(patient_id="p-old")] == ["a recent question"]
    assert (await services.escalations.get(closed.id)).question == ERASED
    assert (await services.escalations.get(still_open.id)).question == "an open worry"
    assert any(r.action == "retention" for r in people.audit_trail())
    await services.http.aclose()
