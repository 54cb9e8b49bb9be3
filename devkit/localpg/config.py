from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[2]


class LocalPgSettings(BaseSettings):
    """``JIGSAW_LOCALPG__*``. Defaults keep the cluster inside the checkout, ignored by git."""

    model_config = SettingsConfigDict(env_prefix="JIGSAW_LOCALPG__", frozen=True, extra="forbid")

    home: Path = REPO / ".jigsaw" / "pg"
    # 0 picks a free loopback port (and keeps it across restarts while it stays free).
    port: int = Field(default=0, ge=0, le=65535)
    # A major version under /usr/lib/postgresql; unset, the newest installed.
    version: str | None = None
    # Small: a developer's machine runs Kafka and several services beside it.
    shared_buffers_mb: int = Field(default=64, ge=16)
    max_connections: int = Field(default=50, ge=10)
    start_timeout_s: float = Field(default=60.0, gt=0)
    stop_timeout_s: float = Field(default=30.0, gt=0)
    # Installing the Debian package when it is missing (only ever as root).
    install_timeout_s: float = Field(default=600.0, gt=0)
