"""The escalation package's section of the settings (``AFTERCARE_ESCALATION__...``)."""

import json
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode


class EscalationSettings(BaseModel):
    confidence_threshold: float = Field(
        default=0.743,
        ge=0.0,
        le=1.0,
        description="Below this confidence the turn escalates (calibrated, see README).",
    )

    # Coordinator alerts: a signed JSON webhook and/or email; unset channels are off.
    webhook_url: str | None = Field(
        default=None, description="Coordinators' webhook: JSON POST signed with HMAC-SHA256."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret for the webhook signature."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    smtp_host: str | None = Field(default=None, description="Mail server for alert emails.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    email_from: str = "aftercare@localhost"
    email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Coordinators' addresses, comma separated."
    )
    alert_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Tries per alert before it is marked failed."
    )
    alert_base_delay_s: float = Field(
        default=5.0, gt=0, description="First retry delay; later ones grow to 360 times it."
    )
    alert_burst_window_s: float = Field(
        default=60.0,
        ge=0,
        description="Unidentified callers' alerts in this window go out as one (0: no batching).",
    )
    recovery_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the scheduler finishes escalations a crash interrupted.",
    )
    recovery_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Escalations and bookings younger than this are still being worked on "
        "and left to the request handling them.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Base of the links sent to coordinators."
    )

    # Follow-up text messages to patients (a Twilio-compatible Messages API); off when unset.
    sms_base_url: str = Field(
        default="https://api.twilio.com",
        description="The SMS gateway's base URL (Twilio, or any gateway speaking its API).",
    )
    sms_account_sid: str | None = Field(
        default=None, description="Account SID: the user name of the gateway's basic auth."
    )
    sms_auth_token: SecretStr | None = Field(default=None, description="The gateway's token.")
    sms_from: str | None = Field(
        default=None, description="The sender: the clinic's number in E.164, or a sender id."
    )
    sms_timeout_s: float = Field(default=10.0, gt=0)
    sms_max_attempts: int = Field(
        default=6, ge=1, le=100, description="Tries per text message before it is marked failed."
    )

    # Appointment booking: the built-in book in the database, or the clinic's FHIR R4 server.
    scheduler: Literal["builtin", "fhir"] = Field(
        default="builtin", description="Where appointments are booked."
    )
    fhir_base_url: str | None = Field(
        default=None, description="FHIR R4 base URL, e.g. https://fhir.example.org/r4."
    )
    fhir_schedule_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="FHIR Schedule ids to book from, comma separated."
    )
    fhir_token: SecretStr | None = Field(default=None, description="Bearer token for FHIR.")
    fhir_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("fhir_schedule_ids", "email_to", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return listed(value)

    @field_validator("webhook_url", "smtp_host", "sms_account_sid", mode="before")
    @classmethod
    def _blanks(cls, value: object) -> object:
        return blank_is_none(value)


def listed(value: object) -> object:
    """A list from the environment: a JSON array, or comma-separated words."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def blank_is_none(value: object) -> object:
    """An empty or blank setting means unset (``AFTERCARE_X=`` in a file)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value
