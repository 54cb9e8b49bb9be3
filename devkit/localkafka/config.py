from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[2]


class LocalKafkaSettings(BaseSettings):
    """``JIGSAW_LOCALKAFKA__*``. Defaults keep everything inside the checkout, ignored by git."""

    model_config = SettingsConfigDict(env_prefix="JIGSAW_LOCALKAFKA__", frozen=True, extra="forbid")

    home: Path = REPO / ".jigsaw" / "kafka"
    jar_cache: Path = REPO / ".cache" / "kafka-jars"
    deploy_dir: Path = REPO / "deploy" / "kafka"
    # 0 picks a free loopback port (and keeps it across restarts while it stays free).
    port: int = Field(default=0, ge=0, le=65535)
    heap_mb: int = Field(default=512, ge=128)
    # How many KRaft nodes `up` formats and starts (each broker and controller in one): 1, or 3 for a
    # cluster that survives one node's loss. Unset: as the storage was formatted, else one.
    nodes: int | None = Field(default=None, ge=1, le=5)
    start_timeout_s: float = Field(default=90.0, gt=0)
    stop_timeout_s: float = Field(default=30.0, gt=0)
    # A plaintext node with no authentication or ACLs: for debugging only, never the default.
    insecure: bool = False
    # The deployment whose participants get a SCRAM user and a client certificate.
    policy: Path = REPO / "deploy" / "policy" / "devon-mash.yaml"
