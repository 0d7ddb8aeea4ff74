"""The traces section of the settings (``AFTERCARE_TELEMETRY__...``).

Tracing is off unless an OTLP/HTTP endpoint is set here or in the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` (read by ``Settings``; this section wins).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class TelemetrySettings(BaseModel):
    otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OTLP/HTTP collector (spans go to <url>/v1/traces); "
        "tracing is off when neither this nor OTEL_EXPORTER_OTLP_ENDPOINT is set.",
    )
    service_name: str = Field(default="aftercare", description="service.name of the spans.")
    sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of conversations traced; decided per conversation, so a traced "
        "conversation keeps all its turns.",
    )
    export_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one export.")
    conversation_key: SecretStr | None = Field(
        default=None,
        description="Key of the digest that turns a conversation id into its trace id and "
        "its pseudonym in spans; set the same value on every process so one call keeps one "
        "trace across them. A random key per process when unset.",
    )
