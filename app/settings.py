"""The one settings object. Built once in ``load_settings`` and passed down; nothing else
reads the environment."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.operations.telemetry_settings import TelemetrySettings
from app.workspace.settings import WorkspaceSettings
from avatar_bridge.settings import AvatarSettings
from escalation.settings import EscalationSettings
from ingestion.settings import IngestionSettings


class PlatformKey(BaseModel):
    """One platform's key; ``id`` is who the audit trail says acted."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    key: SecretStr

    @classmethod
    def parse(cls, entry: str) -> PlatformKey:
        name, sep, key = entry.partition(":")
        if not sep:
            key = entry
            name = "platform-" + hashlib.sha256(entry.encode("utf-8")).hexdigest()[:8]
        if not key.strip():
            raise ValueError("a platform key is empty")
        return cls(id=name.strip(), key=SecretStr(key.strip()))


class SecuritySettings(BaseModel):
    """Limits and exposure (``AFTERCARE_SECURITY__...``). Rates are `limits` strings such as
    ``30/minute``; a client address and a key are each held to them."""

    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body; larger gets 413."
    )
    ws_max_message_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest voice-socket frame; larger closes 1009."
    )
    voice_burst: int = Field(
        default=10, ge=1, description="Messages a voice socket may send back to back."
    )
    voice_refill_per_s: float = Field(
        default=1.0, gt=0, description="Messages per second a voice socket regains."
    )
    max_sockets_per_address: int = Field(
        default=20, ge=1, description="Open voice sockets per client address."
    )
    max_sockets_per_patient: int = Field(
        default=3, ge=1, description="Open voice sockets per identified patient."
    )
    voice_idle_timeout_s: float = Field(
        default=300.0, gt=0, description="A voice socket with no message this long is closed."
    )
    voice_auth_timeout_s: float = Field(
        default=10.0, gt=0, description="Time to send the first (session.start) message."
    )
    rate_ask: str = Field(default="30/minute", description="POST /v1/ask per address and key.")
    rate_chat: str = Field(
        default="300/minute", description="Chat completions per address and platform key."
    )
    rate_voice: str = Field(
        default="60/minute", description="Voice transcripts per address and patient."
    )
    rate_avatar: str = Field(
        default="10/hour", description="Avatar session starts per address and patient."
    )
    rate_auth_failures: str = Field(
        default="10/minute", description="Failed identifications per address before 429."
    )
    page_size: int = Field(default=50, ge=1, description="Default page of list endpoints.")
    max_page_size: int = Field(default=200, ge=1, description="Largest page of list endpoints.")
    expose_docs: bool = Field(
        default=False, description="Serve /docs and /openapi.json (development only)."
    )
    public_metrics: bool = Field(default=False, description="Serve /metrics without a staff key.")
    allow_insecure_transport: bool = Field(
        default=False,
        description="Allow plain http and SMTP without TLS to hosts other than loopback.",
    )
    staff_key_days: int | None = Field(
        default=None, ge=1, description="Default expiry of new staff keys (none when unset)."
    )
    link_code_ttl_s: float = Field(
        default=900.0, gt=0, description="How long a patient's one-time page link works."
    )
    session_ttl_s: float = Field(
        default=12 * 3600.0, gt=0, description="How long a page's session token works."
    )
    retention_days: int = Field(
        default=365, ge=1, description="Turns and escalation texts older than this are deleted."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AFTERCARE_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path(".aftercare"), description="Chroma store and SQLite database."
    )
    corpus_dir: Path = Field(default=Path("corpus"), description="The approved documents.")
    clinic_config: Path | None = Field(
        default=None, description="Clinic YAML; the shipped demo clinic when unset."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the data directory when unset."
    )
    database_auto_upgrade: bool | None = Field(
        default=None,
        description="Migrate the database on start; unset: only a SQLite one (a server "
        "database such as PostgreSQL is migrated with `aftercare db upgrade`).",
    )
    database_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="How long `aftercare serve` retries a database that does not answer.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    role: Literal["all", "web", "worker"] = Field(
        default="all",
        description="all: serve and run the one scheduler in one process; web: serve only "
        "(an `aftercare worker` runs the scheduler); worker: what `aftercare worker` runs.",
    )
    scheduler_lock_stale_s: float = Field(
        default=60.0,
        ge=5,
        description="A scheduler lock whose heartbeat is older than this is taken over.",
    )
    outbox_poll_s: float = Field(
        default=2.0,
        gt=0,
        description="Scheduler: how often it looks for alerts queued by web workers.",
    )
    index_refresh_s: float = Field(
        default=30.0,
        gt=0,
        description="Web role: how often a web worker re-reads the index another process "
        "ingests into.",
    )
    log_level: str = "INFO"
    max_question_chars: int = Field(default=2000, ge=1)
    voice_ack_after_s: float = Field(
        default=0.8, gt=0, description="Say a short acknowledgement if no sentence by then."
    )
    eval_targets: dict[str, float] = Field(
        default_factory=dict,
        description="Override eval targets: answered_correct, escalated, red_flag_recall, "
        "false_red_flag.",
    )

    platform_keys: Annotated[list[PlatformKey], NoDecode] = Field(
        default_factory=list,
        description="Keys accepted from avatar and voice platforms, comma separated `id:key` "
        "pairs; the id names the platform in the audit trail. A plain `key` gets the id "
        "`platform-` and the first 8 hex digits of its SHA-256.",
    )
    platform_reply_ttl_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a platform's retried request gets the reply already given.",
    )
    platform_settle_s: float = Field(
        default=0.4,
        ge=0,
        le=5,
        description="A call's newest request escalates only if no newer one arrives by then "
        "(Tavus speculative partials).",
    )
    retell_allowed_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Client addresses allowed on the Retell socket, comma separated; any "
        "when empty.",
    )
    caller_id_max_failures: int = Field(
        default=3, ge=1, description="Wrong dates of birth before a number is locked."
    )
    caller_id_lock_s: float = Field(
        default=900.0, gt=0, description="How long identification stays locked for a number."
    )
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_first_sentence_timeout_s: float = Field(
        default=2.0, gt=0, le=10, description="No first sentence by then: extractive answer."
    )
    llm_support_threshold: float = Field(
        default=0.55, ge=0, le=1, description="How well a generated sentence must be supported."
    )
    llm_min_supported: int = Field(
        default=1, ge=1, description="Supported sentences needed, else the turn escalates."
    )
    llm_stream_usage: bool = Field(
        default=True,
        description="Ask the model server for token counts (stream_options.include_usage); "
        "turn off for a server that refuses the option.",
    )

    security: SecuritySettings = SecuritySettings()
    ingestion: IngestionSettings = IngestionSettings()
    escalation: EscalationSettings = EscalationSettings()
    avatar: AvatarSettings = AvatarSettings()
    workspace: WorkspaceSettings = WorkspaceSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
        description="The standard OpenTelemetry variable; AFTERCARE_TELEMETRY__OTLP_ENDPOINT wins.",
    )

    @field_validator("platform_keys", "retell_allowed_addresses", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [PlatformKey.parse(v) if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _secure_transport(self) -> Settings:
        """Patient data leaves only over TLS, except to this machine (or when allowed)."""
        if self.security.allow_insecure_transport:
            return self
        section = self.escalation
        urls = {
            "AFTERCARE_ESCALATION__WEBHOOK_URL": section.webhook_url,
            "AFTERCARE_ESCALATION__FHIR_BASE_URL": section.fhir_base_url,
            "AFTERCARE_LLM_BASE_URL": self.llm_base_url,
            "AFTERCARE_AVATAR__HEYGEN_BASE_URL": self.avatar.heygen_base_url,
            "AFTERCARE_AVATAR__LIVEAVATAR_BASE_URL": self.avatar.liveavatar_base_url,
            "AFTERCARE_AVATAR__TAVUS_BASE_URL": self.avatar.tavus_base_url,
        }
        for name, url in urls.items():
            if url and not _secure_url(url):
                raise ValueError(
                    f"{name} must be an https URL (plain http only to loopback; "
                    "AFTERCARE_SECURITY__ALLOW_INSECURE_TRANSPORT=true allows it for development)"
                )
        if section.smtp_host and not section.smtp_starttls and not _loopback(section.smtp_host):
            raise ValueError(
                "alert email needs TLS: set AFTERCARE_ESCALATION__SMTP_STARTTLS=true "
                "(a mail server on loopback may go without)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'aftercare.db').resolve()}"

    @property
    def upgrades_database(self) -> bool:
        """Whether start-up migrates the database itself (else it refuses an old one)."""
        if self.database_auto_upgrade is not None:
            return self.database_auto_upgrade
        return self.resolved_database_url.startswith("sqlite")

    @property
    def otlp_endpoint(self) -> str | None:
        """Where spans go; None turns tracing off."""
        return self.telemetry.otlp_endpoint or self.otel_exporter_otlp_endpoint or None

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def drafts_path(self) -> Path:
        return self.workspace.drafts_dir or self.data_dir / "drafts"


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_url(url: str) -> bool:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("https", "wss"):
        return True
    return scheme in ("http", "ws") and _loopback(parts.hostname or "")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment and ``.env``; keyword overrides win."""
    return Settings(**overrides)  # type: ignore[arg-type]
