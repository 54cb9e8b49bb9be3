from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from jigsaw.config import ConsumerSettings, KeystoreSettings, ServiceSettings


class ApiToken(BaseModel):
    """A hub system's bearer token and the subscriber whose views it may read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriber: str
    token: SecretStr


class HubSettings(ServiceSettings):
    """``JIGSAW_HUB__*``, nested with ``__``.

    Tokens are JSON: ``JIGSAW_HUB__API_TOKENS='{"case-system": {"subscriber": "csc-mash", "token": "..."}}'``.
    """

    model_config = SettingsConfigDict(
        env_prefix="JIGSAW_HUB__", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    subscriber: str = "csc-mash"
    hub_participant: str = "hub.devon"
    policy: Path = Path("deploy/policy/devon-mash.yaml")
    keys: KeystoreSettings = KeystoreSettings()
    consumer: ConsumerSettings | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: dict[str, ApiToken] = Field(default_factory=dict)
    timescales_h: dict[str, float] = Field(default_factory=lambda: {"RED": 4.0, "AMBER": 24.0, "GREEN": 72.0})
    partitions: int = Field(default=3, ge=1)

    def consumer_settings(self) -> ConsumerSettings:
        return self.consumer or ConsumerSettings(group_id=f"jigsaw-hub-{self.subscriber}")

    def store_path(self) -> Path:
        return self.state_dir / f"hub-{self.subscriber}.sqlite"
