"""The coordinator API: authentication, roles, the queue and staff actions."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.app.conftest import LiveApp


def staff(live: LiveApp, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=live.base_url, headers=headers, timeout=60)


def escalate(live: LiveApp, question: str) -> str:
    """Ask as a newly registered patient (unidentified callers are never booked)."""
    patient_id = f"p-coord-{uuid.uuid4().hex[:8]}"
    _, key = live.services.people.add_patient(patient_id, "Coordinator Test Patient")
    body = httpx.post(
        f"{live.base_url}/v1/ask",
        json={"question": question, "patient_id": patient_id},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ).json()
    assert body["escalation"] is not None, body
    return str(body["escalation"]["id"])


@pytest.mark.parametrize("path", ["/v1/escalations", "/v1/appointments", "/v1/escalations/x"])
def test_no_key_is_401_and_wrong_role_is_403(live_app: LiveApp, path: str) -> None:
    assert staff(live_app, None).get(path).status_code == 401
    assert staff(live_app, "acs_not-a-key").get(path).status_code == 401
    assert staff(live_app, live_app.clinician_key).get(path).status_code == 403


def test_queue_actions_and_history(live_app: LiveApp) -> None:
    escalation_id = escalate(live_app, "which brand of incontinence pads is cheapest online?")
    urgent_id = escalate(live_app, "my husband has a temperature of 39 and is shivering")
    with staff(live_app, live_app.coordinator_key) as c:
        queue = c.get("/v1/escalations").json()
        ids = [e["id"] for e in queue]
        assert escalation_id in ids and urgent_id in ids
        order = {"emergency": 0, "urgent": 1, "routine": 2}
        ranks = [order[e["priority"]] for e in queue]
        assert ranks == sorted(ranks)
        one = c.get(f"/v1/escalations/{escalation_id}").json()
        assert one["question"].startswith("which brand")
        assert one["passages"] and one["confidence"] is not None
        assert one["appointment"] is not None and one["status"] == "booked"
        urgent_only = c.get("/v1/escalations", params={"priority": "urgent"}).json()
        assert all(e["priority"] == "urgent" for e in urgent_only)

        acked = c.post(f"/v1/escalations/{escalation_id}/acknowledge").json()
        assert acked["status"] == "acknowledged"
        moved = c.post(
            f"/v1/escalations/{escalation_id}/reschedule", json={"not_before": None}
        ).json()
        assert moved["appointment"]["id"] != one["appointment"]["id"]
        assert c.post(f"/v1/escalations/{escalation_id}/resolve", json={}).status_code == 422
        done = c.post(
            f"/v1/escalations/{escalation_id}/resolve",
            json={"note": "Called him back; pads advice given."},
        ).json()
        assert done["status"] == "resolved"
        assert done["events"][-1]["note"] == "Called him back; pads advice given."
        assert done["events"][-1]["actor"].startswith("staff:")
        again = c.post(f"/v1/escalations/{escalation_id}/acknowledge")
        assert again.status_code == 409
        assert c.get("/v1/escalations/does-not-exist").status_code == 404
        appointments = c.get("/v1/appointments").json()
        assert moved["appointment"]["id"] in {a["id"] for a in appointments}
        assert all(a["start"] < a["end"] for a in appointments)
