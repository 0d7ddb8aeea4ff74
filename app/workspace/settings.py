"""The clinician workspace's section of the settings (``AFTERCARE_WORKSPACE__...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from escalation.settings import blank_is_none, listed

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class WorkspaceSettings(BaseModel):
    drafts_dir: Path | None = Field(
        default=None,
        description="Where unapproved drafts wait; 'drafts' in the data directory when unset. "
        "Never indexed.",
    )
    max_upload_bytes: int = Field(
        default=10_000_000, ge=1024, description="Largest document a clinician may upload."
    )
    review_period_days: int = Field(
        default=365, ge=1, le=3650, description="Approval sets review_due this many days ahead."
    )
    overdue_stay_live: bool = Field(
        default=True,
        description="Whether documents past their review date still answer patients.",
    )
    digest_day: Weekday = Field(default="mon", description="Day of the weekly review digest.")
    digest_hour: int = Field(default=8, ge=0, le=23, description="Hour (UTC) of the digest.")
    digest_webhook_url: str | None = Field(
        default=None, description="Clinicians' webhook for the weekly review digest."
    )
    digest_webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret the digest webhook is signed with."
    )
    digest_email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Clinicians' addresses for the weekly review digest, comma separated "
        "(sent through the alerts' mail server).",
    )
    gap_distance: float = Field(
        default=0.6,
        gt=0,
        lt=2,
        description="Gaps report: questions closer than this (cosine distance) share a group.",
    )

    @field_validator("digest_email_to", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return listed(value)

    @field_validator("digest_webhook_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        value = blank_is_none(value)
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise ValueError("the digest webhook URL must start with http:// or https://")
        return value
