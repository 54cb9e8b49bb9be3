"""A connector's configuration file (YAML), validated. The keystore passphrase comes from the environment."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.sdk.adapters import SourceConfig
from connectors.sdk.adapters.config import CsvFolderConfig, HttpSourceConfig, SqlSourceConfig
from connectors.sdk.base import MARKERS, Connector, category_of
from connectors.sdk.contacts import PLAIN, ContactRouting
from connectors.sdk.records import ConfidentialAddress
from jigsaw.config import ConsumerSettings, KafkaSettings, KeystoreSettings, MetricsSettings
from jigsaw.errors import ConfigError
from jigsaw.topics import Topics
from jigsaw.wire.categories import CATEGORIES
from jigsaw.wire.codec import SchemaRegistry


class ConnectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    participant_id: str = Field(description="This connector's participant id, e.g. police.devon.")
    agency: str = Field(description="The agency type, which names the intel topic, e.g. police.")
    connector: str = Field(description="module:Class of the agency's Connector subclass.")
    source: SourceConfig
    kafka: KafkaSettings = KafkaSettings()
    keys: KeystoreSettings = KeystoreSettings()
    consumer: ConsumerSettings | None = None
    metrics: MetricsSettings = MetricsSettings(port=0)
    broker: str = "broker"
    match_threshold: float = Field(default=0.9, gt=0.5, le=1)
    front_door: str = Field(
        default="hub.devon",
        description="The MASH front door's hub participant, to which unsolicited reports are sealed.",
    )
    state_dir: Path = Path(".jigsaw/state")
    # The deployment's partition count, as the broker and the hubs have it: checked against the topics.
    partitions: int = Field(default=3, ge=1)
    contacts: ContactRouting = Field(
        default_factory=ContactRouting,
        description="Which category each contact travels as: contact, or contact_<category> where its "
        "team's or service's name reveals that category's fact (connectors/sdk/contacts.py).",
    )

    def consumer_settings(self) -> ConsumerSettings:
        # The connector's own group under the topic prefix, as the ACLs grant it.
        return self.consumer or ConsumerSettings(
            group_id=Topics(self.kafka.topic_prefix).group(self.participant_id)
        )

    def connector_class(self) -> type[Connector]:
        """The agency's Connector subclass, checked against the source: every records key it declares
        must name a known category and have its own query, file or path."""
        module, _, name = self.connector.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"connector {self.connector!r} cannot be imported: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ConfigError(f"connector {self.connector!r} is not a Connector subclass")
        configured = set(_sources(self.source))
        unknown = sorted(k for k in cls.records if k != MARKERS and category_of(k) not in CATEGORIES)
        missing = sorted(set(cls.records) - configured)
        if unknown:
            raise ConfigError(f"{self.connector}: records {unknown} name no known category")
        marker = cls.records.get(MARKERS)
        if marker is not None and not issubclass(marker, ConfidentialAddress):
            raise ConfigError(f"{self.connector}: records[{MARKERS!r}] must be a ConfidentialAddress model")
        if missing:
            raise ConfigError(
                f"{self.connector}: the source has no query, file or path for {missing}; "
                f"configured: {sorted(configured)}"
            )
        return cls

    def categories(self) -> set[str]:
        """Every category this connector can put in a return: each must be in its participant's
        ``publishes`` in the agreement, or the broker refuses the return."""
        cls = self.connector_class()
        found = {category_of(k) for k in cls.records if k != MARKERS}
        if PLAIN in found:
            found = (found - {PLAIN}) | self.contacts.categories()
        return found


def check_payload_lists(cls: type[Connector], registry: SchemaRegistry) -> None:
    """Every records key's list is in its category's payload as writers now write it: a key written for
    an older version (``identity.identifiers``, before identifiers travelled by scheme) is named at start,
    rather than failing every enquiry when its section is sealed."""
    for key, model in cls.records.items():
        if key == MARKERS:
            continue
        schema = registry.latest(CATEGORIES[category_of(key)].schema)
        lists = {f["name"] for f in schema.parsed["fields"] if _is_array(f["type"])}
        if model.list_field not in lists:
            raise ConfigError(
                f"{cls.__name__}: records key {key!r} fills {model.list_field!r}, which {schema} does not "
                f"have (its lists: {sorted(lists)}); identifiers travel as identifier_<scheme>, addresses "
                "as address"
            )


def _is_array(avro: object) -> bool:
    return isinstance(avro, dict) and avro.get("type") == "array"


def _sources(source: SqlSourceConfig | CsvFolderConfig | HttpSourceConfig) -> list[str]:
    if isinstance(source, SqlSourceConfig):
        return list(source.category_queries)
    if isinstance(source, CsvFolderConfig):
        return list(source.category_files)
    return list(source.category_paths)


def load_config(path: Path) -> ConnectorConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return ConnectorConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: {exc.error_count()} problem(s):\n" + "\n".join(lines)) from None
