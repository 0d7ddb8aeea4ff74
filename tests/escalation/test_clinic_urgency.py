"""The clinic's urgency vocabulary: loaded from its file, checked, filled with its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from escalation.clinic import ClinicConfig, load_clinic_config
from escalation.errors import ClinicConfigError


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "clinic.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_file_matches_the_built_in_defaults() -> None:
    shipped = load_clinic_config()
    assert shipped.urgency == ClinicConfig().urgency
    assert shipped.contacts.urgent_advice_number == "111"
    assert shipped.triage.prolonged_erection_hours == 4
    assert shipped.facts.no_enema_months == "3"


def test_phrases_are_filled_with_the_clinics_numbers(tmp_path: Path) -> None:
    clinic = load_clinic_config(
        _write(
            tmp_path,
            {"contacts": {"emergency_number": "112", "urgent_advice_number": "1813"}},
        )
    )
    phrases = clinic.urgency_phrases()
    assert phrases["emergency"] == "Call 112 now."
    assert "call 1813 or go to A&E" in phrases["safety_net"]
    values = clinic.placeholders()
    assert values["urgency_emergency"] == "Call 112 now."
    assert values["urgency_safety_net"] == phrases["safety_net"]
    assert values["prolonged_erection_hours"] == "4"


@pytest.mark.parametrize(
    ("urgency", "message"),
    [
        ({"urgent": "Call {pager_number} now."}, "unknown contact names ['pager_number']"),
        ({"today": "Call your nurse today"}, "full stop"),
        ({"sometime": "Call whenever."}, "sometime"),
    ],
)
def test_bad_vocabulary_is_refused_with_a_clear_error(
    tmp_path: Path, urgency: dict[str, str], message: str
) -> None:
    with pytest.raises(ClinicConfigError) as raised:
        load_clinic_config(_write(tmp_path, {"urgency": urgency}))
    assert message in str(raised.value) and "urgency" in str(raised.value)


def test_the_old_enema_setting_name_is_still_read(tmp_path: Path) -> None:
    clinic = load_clinic_config(_write(tmp_path, {"facts": {"no_enema_months_open": "6"}}))
    assert clinic.facts.no_enema_months == "6"
    assert clinic.placeholders()["no_enema_months"] == "6"
