"""The escalation package's section of the settings (``AFTERCARE_ESCALATION__...``)."""

from pydantic import BaseModel, Field


class EscalationSettings(BaseModel):
    confidence_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Below this confidence the turn escalates."
    )
