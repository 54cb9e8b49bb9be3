from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jigsaw.config import ConsumerSettings, KeystoreSettings, ServiceSettings, StoreSettings
from jigsaw.topics import Topics


class BrokerSettings(ServiceSettings):
    """``JIGSAW_BROKER__*``, nested with ``__`` (``JIGSAW_BROKER__KEYS__PASSPHRASE``)."""

    model_config = SettingsConfigDict(
        env_prefix="JIGSAW_BROKER__", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    participant_id: str = "broker"
    policy: Path = Path("deploy/policy/devon-mash.yaml")
    policy_poll_s: float = Field(default=1.0, gt=0)
    keys: KeystoreSettings = KeystoreSettings()
    # Unset: SQLite at state_dir/broker.sqlite, for one instance. A PostgreSQL URL lets several broker
    # instances share the input partitions (docs/operations.md).
    store: StoreSettings = StoreSettings()
    # Unset: the broker's own group under the topic prefix (jigsaw.topics.Topics.group), as the ACLs grant.
    consumer: ConsumerSettings | None = None
    partitions: int = Field(default=3, ge=1)
    # A signed checkpoint on each audit chain after this many records or seconds, whichever comes first,
    # and at shutdown: the longest any audit record waits for a signature over it.
    audit_checkpoint_records: int = Field(default=1000, ge=1)
    audit_checkpoint_s: float = Field(default=1.0, gt=0)

    def consumer_settings(self) -> ConsumerSettings:
        return self.consumer or ConsumerSettings(
            group_id=Topics(self.kafka.topic_prefix).group(self.participant_id)
        )
