"""The clinic's own configuration: phone numbers, triage thresholds, the care team.

Loaded from a YAML file (shipped default: ``clinic_default.yaml`` beside this module).
Every number that clinics set differently lives here, never in code or prose.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from escalation.errors import ClinicConfigError

DEFAULT_CLINIC_FILE = Path(__file__).with_name("clinic_default.yaml")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contacts(_Strict):
    """Numbers a patient is told to call. Spoken as written."""

    emergency_number: str = "999"
    on_call_phone: str = "01223 000 000"
    on_call_name: str = "the urology on-call team"
    nurse_line_phone: str = "01223 000 001"
    nurse_line_hours: str = "weekdays 8am to 6pm"
    crisis_line_name: str = "Samaritans"
    crisis_line_phone: str = "116 123"
    urgent_advice_number: str = Field(
        default="111",
        description="Urgent advice when the on-call team does not answer (NHS 111 in England).",
    )


class TriageThresholds(_Strict):
    """Clinic-set numbers the red-flag rules use."""

    fever_celsius: float = 38.0
    bleeding_urine_hours: float = 24.0
    no_urine_hours_after_removal: float = 6.0
    sepsis_no_urine_hours: float = Field(
        default=24.0, gt=0, description="No urine at all for this long is a sign of sepsis."
    )
    burning_days: float = Field(
        default=3.0, gt=0, description="Burning when passing urine for longer than this is checked."
    )
    prolonged_erection_hours: float = Field(
        default=4.0, gt=0, description="An erection lasting this long is an emergency (priapism)."
    )


class WorkingHours(_Strict):
    day: Weekday
    start: time
    end: time

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: time, info: object) -> time:
        start = getattr(info, "data", {}).get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class Clinician(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1, description="How the patient hears it, e.g. 'nurse Patel'.")
    role: str = "specialist nurse"
    hours: list[WorkingHours]


class Closure(_Strict):
    start: date
    end: date
    reason: str = ""


class CareTeam(_Strict):
    timezone: str = "Europe/London"
    appointment_minutes: int = Field(default=20, ge=5, le=240)
    booking_horizon_days: int = Field(default=28, ge=1, le=365)
    urgent_same_day: bool = True
    booking_patience_s: float = Field(
        default=2.5,
        gt=0,
        le=60,
        description="How long a caller waits for a booking; after that he is told he will "
        "get a text message with the appointment and may hang up.",
    )
    clinicians: list[Clinician] = Field(default_factory=list)
    closures: list[Closure] = Field(default_factory=list)


class CareFacts(_Strict):
    """Numbers that approved documents quote through ``{{ clinic.NAME }}`` placeholders."""

    catheter_days: str = "7 to 10"
    lifting_limit: str = "10 pounds (about 4.5 kilograms)"
    lifting_weeks_robotic: str = "4"
    lifting_weeks_open: str = "8"
    cycling_weeks: str = "8"
    strenuous_exercise_weeks: str = "6"
    no_enema_months: str = Field(
        default="3",
        validation_alias=AliasChoices("no_enema_months", "no_enema_months_open"),
        description="No enemas or suppositories for this long after any prostatectomy.",
    )
    fluid_intake: str = "6 to 8 glasses (about 1.5 to 2 litres)"
    light_exercise_weeks: str = "4"
    physical_work_weeks_robotic: str = "4 to 6"
    physical_work_weeks_open: str = "8"
    blood_thinner_days: str = "28"
    vacuum_ring_minutes: str = "30"
    first_psa_test: str = "6 to 12 weeks after your operation"
    psa_schedule: str = (
        "every 3 to 6 months for the first 2 years, then every 6 to 12 months, "
        "and once a year after 5 years"
    )
    psa_recurrence_level: str = "0.2 ng/mL"


class RulePhrasings(_Strict):
    """Ways patients say one danger sign; matched by meaning (``escalation.danger_meaning``)."""

    says: list[str] = Field(default_factory=list)


class Acknowledgements(_Strict):
    """One short opening line when a message carries a feeling; clinic-approved wording."""

    fear: str = "It's completely understandable to feel worried about this."
    frustration: str = "I'm sorry this has been so frustrating."
    anger_at_team: str = (
        "I'm sorry you were not told more about this; I'll make sure the care team hears it."
    )
    embarrassment: str = "Lots of men ask about this, so please don't feel embarrassed."
    grief: str = "I'm sorry. This is a real loss, and it's natural to grieve it."


UrgencyLevel = Literal["emergency", "urgent", "today", "routine"]

URGENCY_PRIORITY: dict[UrgencyLevel, Literal["emergency", "urgent", "routine"]] = {
    "emergency": "emergency",
    "urgent": "urgent",
    # "Call your nurse today" is booked and alerted as urgent: the care team's urgent
    # same-day slots are how "today" is kept, and a priority never understates the level.
    "today": "urgent",
    "routine": "routine",
}
"""The red-flag priority each urgency level is raised as (``red_flag.priority``)."""

_CONTACT_FIELD = re.compile(r"\{([a-z_]+)\}")


class UrgencyVocabulary(_Strict):
    """The only words that tell a patient how soon to act: guides, rules and replies.

    Each level is one or two spoken sentences; ``{NAME}`` fills in a ``contacts`` number.
    Guides quote a level as ``{{ clinic.urgency_LEVEL }}`` and the red-flag rules as
    ``{urgency_LEVEL}``, so a guide and a rule can never word the same level differently.
    """

    emergency: str = "Call {emergency_number} now."
    urgent: str = "Call {on_call_name} on {on_call_phone} now, day or night."
    today: str = (
        "Call your nurse today on {nurse_line_phone}, {nurse_line_hours}. "
        "When that line is closed, call {on_call_name} on {on_call_phone}."
    )
    routine: str = "Mention it at your next call with your care team."
    safety_net: str = (
        "If no one answers, call {urgent_advice_number} or go to A&E. "
        "In an emergency, call {emergency_number}."
    )
    emergency_not_dispatched: str = (
        "I have let your care team know, but they will not call you straight away and no "
        "one has been sent to you. Please make the {emergency_number} call yourself now: "
        "Aftercare is not an emergency service."
    )

    @field_validator("*")
    @classmethod
    def _known_contacts(cls, text: str) -> str:
        unknown = set(_CONTACT_FIELD.findall(text)) - set(Contacts.model_fields)
        if unknown:
            raise ValueError(f"unknown contact names {sorted(unknown)}")
        if not text.strip().endswith("."):
            raise ValueError("must be whole sentences ending with a full stop")
        return text


class ClinicConfig(_Strict):
    name: str = "Aftercare demo clinic"
    country: str = Field(
        default="GB",
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 country of the clinic: how its numbers are written (E.164).",
    )
    date_order: Literal["DMY", "MDY", "YMD"] = Field(
        default="DMY", description="How patients in this clinic say dates such as 4/3/52."
    )
    contacts: Contacts = Contacts()
    triage: TriageThresholds = TriageThresholds()
    care_team: CareTeam = CareTeam()
    facts: CareFacts = CareFacts()
    acknowledgements: Acknowledgements = Acknowledgements()
    danger_phrasings: dict[str, RulePhrasings] = Field(
        default_factory=dict,
        description="The clinic's own danger-sign phrasings, added to the shipped ones.",
    )
    danger_look_alikes: list[str] = Field(default_factory=list)
    urgency: UrgencyVocabulary = UrgencyVocabulary()

    def urgency_phrases(self) -> dict[str, str]:
        """Each urgency level (and the safety net) as spoken, the clinic's numbers filled in."""
        contacts = {k: str(v) for k, v in self.contacts.model_dump().items()}
        return {
            level: template.format_map(contacts)
            for level, template in self.urgency.model_dump().items()
        }

    def placeholders(self) -> dict[str, str]:
        """Values documents may quote as ``{{ clinic.KEY }}``."""
        values: dict[str, str] = {"name": self.name}
        for section in (self.contacts, self.facts):
            values.update({k: str(v) for k, v in section.model_dump().items()})
        values["fever_celsius"] = f"{self.triage.fever_celsius:g}"
        values["fever_fahrenheit"] = f"{self.triage.fever_celsius * 9 / 5 + 32:.1f}".rstrip(
            "0"
        ).rstrip(".")
        values["prolonged_erection_hours"] = f"{self.triage.prolonged_erection_hours:g}"
        values.update({f"urgency_{k}": v for k, v in self.urgency_phrases().items()})
        return values


def load_clinic_config(path: Path | None = None) -> ClinicConfig:
    """Read and validate the clinic file; the shipped default when ``path`` is None."""
    source = path or DEFAULT_CLINIC_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ClinicConfigError(f"clinic configuration file not found: {source}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ClinicConfigError(f"clinic configuration {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ClinicConfigError(f"clinic configuration {source} must be a mapping at the top level")
    try:
        return ClinicConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ClinicConfigError(f"clinic configuration {source} is invalid: {problems}") from exc
