"""Staff and patient keys over their life: expiry, revocation, rotation, last use, page
links; every change and every refusal in the chained audit trail."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.errors import ForbiddenError, NotAuthenticatedError, UnknownPatientError
from app.main import build_services
from app.services import Services
from app.settings import PlatformKey, Settings
from escalation.record_models import NewEscalation
from tests.app.conftest import make_settings
from tests.app.test_cli import run


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(tmp_path: Path, clock: Clock) -> Services:
    return build_services(make_settings(tmp_path), clock=clock)


def test_staff_keys_expire_are_revoked_and_record_their_last_use(
    services: Services, clock: Clock
) -> None:
    people = services.people
    member, key = people.add_staff("Nurse Ada", "coordinator", expires_in_days=30)
    assert member.expires_at == clock.now + timedelta(days=30)
    assert people.staff_for_key(key, ("coordinator",), "10.0.0.1").id == member.id
    listed = {m.id: m for m in people.list_staff()}
    assert listed[member.id].last_used_at is not None
    with pytest.raises(ForbiddenError):
        people.staff_for_key(key, ("clinician",))
    clock.now += timedelta(days=31)
    with pytest.raises(NotAuthenticatedError):
        people.staff_for_key(key, ("coordinator",))
    other, other_key = people.add_staff("Coordinator Bo", "coordinator")
    people.revoke_staff(other.id, actor="staff:admin1")
    with pytest.raises(NotAuthenticatedError):
        people.staff_for_key(other_key, ("coordinator",), "10.0.0.2")
    with pytest.raises(ValueError, match="no staff key"):
        people.revoke_staff("nobody")
    trail = people.audit_trail()
    denied = [r for r in trail if r.outcome == "denied"]
    assert {r.detail for r in denied} >= {"expired key", "revoked key", "role"}
    assert any(r.source == "10.0.0.2" and r.key_id == other.id for r in denied)
    assert any(r.action == "staff.revoke" and r.actor == "staff:admin1" for r in trail)
    assert any(r.action == "staff.create" for r in trail)
    assert people.verify_audit().ok


def test_a_rotated_patient_key_replaces_the_old_one(services: Services) -> None:
    people = services.people
    _, old = people.add_patient("p-rot", "Rotating Patient")
    assert people.patient_for_key("p-rot", old).id == "p-rot"
    new = people.rotate_patient_key("p-rot")
    assert new != old
    with pytest.raises(NotAuthenticatedError):
        people.patient_for_key("p-rot", old)
    assert people.patient_for_key("p-rot", new).id == "p-rot"
    with pytest.raises(UnknownPatientError):
        people.rotate_patient_key("nobody")
    assert [r.action for r in people.audit_trail("p-rot")][:2] == [
        "patient.rotate_key",
        "patient.create",
    ]


def test_a_page_link_works_once_and_gives_an_expiring_session(
    services: Services, clock: Clock
) -> None:
    people = services.people
    _, key = people.add_patient("p-link", "Linked Patient")
    code = people.link_code("p-link", ttl_s=600)
    patient, token = people.exchange_link(code, ttl_s=3600, source="10.1.1.1")
    assert patient.id == "p-link" and token != key
    assert people.patient_for_key("p-link", token).id == "p-link"
    with pytest.raises(NotAuthenticatedError):
        people.exchange_link(code, ttl_s=3600)  # spent
    with pytest.raises(NotAuthenticatedError):
        people.patient_for_key("p-other", token)  # his token is his only
    late = people.link_code("p-link", ttl_s=600)
    clock.now += timedelta(hours=2)
    with pytest.raises(NotAuthenticatedError):
        people.patient_for_key("p-link", token)  # the session expired
    with pytest.raises(NotAuthenticatedError):
        people.exchange_link(late, ttl_s=3600)  # so did the link
    with pytest.raises(NotAuthenticatedError):
        people.exchange_link("", ttl_s=3600)


def test_platform_keys_are_id_key_pairs_and_plain_keys_get_a_derived_id() -> None:
    settings = Settings(_env_file=None, platform_keys="retell:k1, d-id:k2:with-colon ,plainkey")
    ids = [k.id for k in settings.platform_keys]
    assert ids[:2] == ["retell", "d-id"]
    assert settings.platform_keys[1].key.get_secret_value() == "k2:with-colon"
    assert ids[2].startswith("platform-") and len(ids[2]) == len("platform-") + 8
    assert PlatformKey.parse("plainkey").id == ids[2]  # stable
    for bad in ("bad id:key", "id:", ":"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, platform_keys=bad)


@pytest.mark.parametrize(
    "overrides",
    [
        {"escalation": {"webhook_url": "http://alerts.example.org/hook", "webhook_secret": "s"}},
        {"llm_base_url": "http://llm.example.org/v1"},
        {"escalation": {"fhir_base_url": "http://fhir.example.org/r4"}},
        {"avatar": {"tavus_base_url": "http://tavus.example.org"}},
        {"escalation": {"smtp_host": "mail.example.org", "smtp_starttls": False}},
    ],
)
def test_patient_data_leaves_only_over_tls(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=r"TLS|https"):
        Settings(_env_file=None, **overrides)  # type: ignore[arg-type]
    allowed = Settings(
        _env_file=None,
        security={"allow_insecure_transport": True},
        **overrides,  # type: ignore[arg-type]
    )
    assert allowed.security.allow_insecure_transport


def test_loopback_may_go_without_tls() -> None:
    Settings(
        _env_file=None,
        llm_base_url="http://127.0.0.1:8001/v1",
        escalation={
            "webhook_url": "http://localhost:9000/hook",
            "webhook_secret": "s",
            "smtp_host": "127.0.0.1",
            "smtp_starttls": False,
            "fhir_base_url": "http://[::1]:8080/r4",
        },
    )


def test_key_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    added = run(
        tmp_path, "staff", "add", "--name", "Ada", "--role", "coordinator", "--expires-days", "7"
    )
    assert added.returncode == 0, added.stderr
    member = json.loads(added.stdout)
    assert member["expires_at"] is not None and member["key"].startswith("acs_")
    listed = [json.loads(line) for line in run(tmp_path, "staff", "list").stdout.splitlines()]
    assert [m["id"] for m in listed] == [member["id"]] and "key" not in listed[0]
    revoked = run(tmp_path, "staff", "revoke", member["id"])
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert run(tmp_path, "staff", "revoke", "nobody").returncode == 1
    assert (
        run(
            tmp_path, "staff", "add", "--name", "X", "--role", "admin", "--expires-days", "0"
        ).returncode
        == 1
    )
    assert run(tmp_path, "patient", "add", "p-cli", "--name", "Cli Patient").returncode == 0
    rotated = run(tmp_path, "patient", "rotate-key", "p-cli")
    assert rotated.returncode == 0 and json.loads(rotated.stdout)["key"].startswith("acp_")
    assert run(tmp_path, "patient", "rotate-key", "nobody").returncode == 1
    link = run(tmp_path, "patient", "link", "p-cli")
    assert "/?code=acl_" in json.loads(link.stdout)["url"]
    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]


def test_concurrent_writers_extend_one_unbroken_chain(services: Services) -> None:
    people = services.people

    def write(n: int) -> None:
        for i in range(20):
            people.audit(f"patient:p{n}", "ask", "turn", f"p{n}", f"turn {i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    report = people.verify_audit()
    assert report.ok and report.rows == 160


async def test_staff_changes_are_audited_with_the_change(services: Services) -> None:
    member, _ = services.people.add_staff("Coordinator Cy", "coordinator")
    made = await services.escalations.open(
        NewEscalation(
            patient_id="p-aud", question="?", reason="patient_request", priority="routine"
        )
    )
    await services.escalations.acknowledge(made.id, member.actor)
    await services.escalations.resolve(made.id, member.actor, "done")
    rows = services.people.audit_trail("p-aud")
    assert [r.action for r in rows] == ["escalation.resolved", "escalation.acknowledged"]
    assert all(r.key_id == member.id and r.resource == f"escalation:{made.id}" for r in rows)
    assert services.people.verify_audit().ok
    await services.http.aclose()
