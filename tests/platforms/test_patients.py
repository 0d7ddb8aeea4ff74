"""Patient records with phone, date of birth and recovery dates: staff API and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.app.test_cli import run
from tests.platforms.conftest import PlatformApp


def staff(app: PlatformApp) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.live.coordinator_key}"}


def test_staff_register_a_patient_with_a_national_number(platform_app: PlatformApp) -> None:
    body = {
        "id": "pt-api-1",
        "name": "John Reese",
        "phone": "07912 345678",
        "date_of_birth": "1958-11-20",
        "surgery_date": "2026-11-20",
        "surgery_type": "open",
        "catheter_out_on": "2026-11-30",
        "preferred_contact": "phone",
    }
    response = httpx.post(
        f"{platform_app.base_url}/v1/patients", json=body, headers=staff(platform_app)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["phone"] == "+447912345678" and created["key"].startswith("acp")
    read = httpx.get(f"{platform_app.base_url}/v1/patients/pt-api-1", headers=staff(platform_app))
    assert read.status_code == 200 and "key" not in read.json()
    assert read.json()["date_of_birth"] == "1958-11-20"
    trail = platform_app.live.services.people.audit_trail("pt-api-1")
    assert {row.action for row in trail} >= {"patients.add", "patients.read"}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"phone": "999"}, 400),
        ({"phone": "call me maybe"}, 400),
        ({"date_of_birth": "2999-01-01"}, 422),
        ({"surgery_date": "1950-01-01", "date_of_birth": "1958-11-20"}, 422),
        ({"preferred_contact": "pigeon"}, 422),
        ({"id": "has spaces"}, 422),
        ({"id": "pt-harold"}, 409),
    ],
)
def test_bad_patient_records_are_refused(
    platform_app: PlatformApp, change: dict[str, str], status: int
) -> None:
    body = {"id": "pt-api-bad", "name": "Lionel Fusco", **change}
    response = httpx.post(
        f"{platform_app.base_url}/v1/patients", json=body, headers=staff(platform_app)
    )
    assert response.status_code == status, response.text
    assert (
        httpx.get(
            f"{platform_app.base_url}/v1/patients/pt-api-bad", headers=staff(platform_app)
        ).status_code
        == 404
    )


def test_patient_records_need_a_staff_key(platform_app: PlatformApp) -> None:
    response = httpx.get(f"{platform_app.base_url}/v1/patients/pt-harold")
    assert response.status_code == 401
    response = httpx.post(f"{platform_app.base_url}/v1/patients", json={"id": "x", "name": "y"})
    assert response.status_code == 401


def test_cli_patient_add_with_phone_and_birth_date(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "patient", "add", "pt-cli-1", "--name", "Sameen Shaw", "--phone", "+44 7911 123457",
        "--dob", "1955-07-02", "--surgery-date", "2026-11-26", "--surgery-type", "robotic",
        "--catheter-out", "2026-12-05", "--preferred-contact", "sms",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["phone"] == "+447911123457" and out["key"]
    bad = run(tmp_path, "patient", "add", "pt-cli-2", "--name", "Root", "--phone", "12")
    assert bad.returncode != 0 and "phone" in bad.stderr
    again = run(tmp_path, "patient", "add", "pt-cli-1", "--name", "Sameen Shaw")
    assert again.returncode != 0 and "already exists" in again.stderr


def test_staff_edit_a_patient_and_the_change_is_audited(platform_app: PlatformApp) -> None:
    base = platform_app.base_url
    created = httpx.post(
        f"{base}/v1/patients",
        json={"id": "pt-edit-1", "name": "Harry Wells", "phone": "07912 345679"},
        headers=staff(platform_app),
    )
    assert created.status_code == 201, created.text
    changed = httpx.patch(
        f"{base}/v1/patients/pt-edit-1",
        json={"phone": "+44 7912 345680", "date_of_birth": "1951-02-03", "surgery_type": "open"},
        headers=staff(platform_app),
    )
    assert changed.status_code == 200, changed.text
    record = changed.json()
    assert record["phone"] == "+447912345680" and record["date_of_birth"] == "1951-02-03"
    assert record["name"] == "Harry Wells" and record["surgery_type"] == "open"  # kept
    cleared = httpx.patch(
        f"{base}/v1/patients/pt-edit-1", json={"phone": None}, headers=staff(platform_app)
    )
    assert cleared.status_code == 200 and cleared.json()["phone"] is None
    assert cleared.json()["date_of_birth"] == "1951-02-03"
    updates = [
        row
        for row in platform_app.live.services.people.audit_trail("pt-edit-1")
        if row.action == "patient.update"
    ]
    # The audit names what changed, never the values.
    assert sorted(row.detail for row in updates) == sorted(
        ["approach,phone,date_of_birth", "phone"]
    )
    assert all("7912" not in row.detail for row in updates)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"phone": "999"}, 400),
        ({"date_of_birth": "2999-01-01"}, 422),
        ({"surgery_date": "1940-01-01"}, 422),  # before his date of birth
        ({"catheter_out_on": "2020-01-01"}, 422),  # before his surgery
        ({"preferred_contact": "pigeon"}, 422),
        ({"name": None}, 422),
        ({"name": ""}, 422),
        ({"key": "acp_mine"}, 422),
        ({"id": "someone-else"}, 422),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(
    platform_app: PlatformApp, change: dict[str, object], status: int
) -> None:
    base = platform_app.base_url
    before = httpx.get(f"{base}/v1/patients/pt-harold", headers=staff(platform_app)).json()
    response = httpx.patch(
        f"{base}/v1/patients/pt-harold", json=change, headers=staff(platform_app)
    )
    assert response.status_code == status, response.text
    after = httpx.get(f"{base}/v1/patients/pt-harold", headers=staff(platform_app)).json()
    assert after == before


def test_editing_needs_a_coordinator_and_a_known_patient(platform_app: PlatformApp) -> None:
    base = platform_app.base_url
    assert httpx.patch(f"{base}/v1/patients/pt-harold", json={"name": "X"}).status_code == 401
    clinician = {"Authorization": f"Bearer {platform_app.live.clinician_key}"}
    refused = httpx.patch(f"{base}/v1/patients/pt-harold", json={"name": "X"}, headers=clinician)
    assert refused.status_code == 403
    missing = httpx.patch(
        f"{base}/v1/patients/pt-nobody", json={"name": "X"}, headers=staff(platform_app)
    )
    assert missing.status_code == 404


def test_cli_patient_update_changes_only_what_is_given(tmp_path: Path) -> None:
    added = run(
        tmp_path,
        "patient", "add", "pt-cli-3", "--name", "John Greer", "--phone", "07911 123458",
        "--dob", "1950-01-02", "--preferred-contact", "sms",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    result = run(
        tmp_path,
        "patient", "update", "pt-cli-3", "--catheter-out", "2026-12-05",
        "--surgery-date", "2026-11-26", "--clear", "preferred-contact",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["phone"] == "+447911123458" and out["date_of_birth"] == "1950-01-02"
    assert out["catheter_out_on"] == "2026-12-05" and out["preferred_contact"] is None
    assert sorted(out["changed"]) == ["catheter_out_on", "preferred_contact", "surgery_date"]
    bad = run(tmp_path, "patient", "update", "pt-cli-3", "--catheter-out", "2026-01-01")
    assert bad.returncode != 0 and "catheter" in bad.stderr
    missing = run(tmp_path, "patient", "update", "pt-nobody", "--name", "X")
    assert missing.returncode != 0 and "pt-nobody" in missing.stderr
