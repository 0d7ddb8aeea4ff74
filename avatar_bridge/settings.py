"""The avatar bridge's section of the settings (``AFTERCARE_AVATAR__...``)."""

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

ProviderName = Literal["browser", "heygen", "liveavatar", "tavus"]


class AvatarSettings(BaseModel):
    provider: ProviderName = "browser"

    # Shared by every vendor.
    public_base_url: str | None = Field(
        default=None,
        description="Our server's public root (https://...), for vendor callbacks and for the "
        "custom-LLM base URL the vendor calls.",
    )
    vendor_llm_key: SecretStr | None = Field(
        default=None,
        description="Bearer key the vendor presents to our OpenAI-compatible endpoint; "
        "must be one of AFTERCARE_PLATFORM_KEYS.",
    )
    vendor_llm_model: str = Field(
        default="aftercare", description="Model name the vendor sends to our endpoint."
    )
    keepalive_s: float = Field(
        default=60.0, gt=0, description="Seconds between keep-alives of a live avatar session."
    )
    keepalive_max_failures: int = Field(
        default=2, ge=1, description="Failed keep-alives in a row before a session is dropped."
    )
    request_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for one vendor request."
    )

    # HeyGen Interactive (Streaming) Avatar, legacy API.
    heygen_api_key: SecretStr | None = None
    heygen_base_url: str = "https://api.heygen.com"
    heygen_avatar_id: str | None = None
    heygen_voice_id: str | None = None
    heygen_language: str = "en"
    heygen_quality: Literal["low", "medium", "high"] = "medium"
    heygen_idle_timeout_s: int = Field(
        default=120, ge=30, le=3600, description="HeyGen's idle timeout for a session."
    )

    # HeyGen LiveAvatar.
    liveavatar_api_key: SecretStr | None = None
    liveavatar_base_url: str = "https://api.liveavatar.com"
    liveavatar_avatar_id: str | None = None
    liveavatar_voice_id: str | None = None
    liveavatar_context_id: str | None = None
    liveavatar_language: str = "en"
    liveavatar_mode: Literal["FULL", "CUSTOM"] = "FULL"
    liveavatar_llm_configuration_id: str | None = Field(
        default=None,
        description="LiveAvatar LLM configuration that points at our endpoint "
        "(from register_custom_llm); FULL mode then answers with our assistant.",
    )

    # Tavus CVI.
    tavus_api_key: SecretStr | None = None
    tavus_base_url: str = "https://tavusapi.com"
    tavus_replica_id: str | None = None
    tavus_persona_id: str | None = Field(
        default=None, description="Existing persona; created on first use when unset."
    )
    tavus_callback_path: str = "/v1/avatar/tavus/callback"
    tavus_callback_token: SecretStr | None = Field(
        default=None,
        description="Shared token appended to the callback URL; callbacks without it are refused.",
    )
    tavus_max_call_duration_s: int = Field(default=1800, ge=60)
    tavus_participant_left_timeout_s: int = Field(default=30, ge=0)
