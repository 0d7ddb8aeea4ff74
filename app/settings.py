"""The one settings object. Built once in ``load_settings`` and passed down; nothing else
reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from avatar_bridge.settings import AvatarSettings
from escalation.settings import EscalationSettings
from ingestion.settings import IngestionSettings


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
    host: str = "127.0.0.1"
    port: int = 8000
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

    platform_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys accepted by the OpenAI-compatible endpoint, comma separated.",
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

    ingestion: IngestionSettings = IngestionSettings()
    escalation: EscalationSettings = EscalationSettings()
    avatar: AvatarSettings = AvatarSettings()

    @field_validator("platform_keys", "retell_allowed_addresses", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'aftercare.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment and ``.env``; keyword overrides win."""
    return Settings(**overrides)  # type: ignore[arg-type]
