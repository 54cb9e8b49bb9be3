"""Helpers shared by the CLI's command groups."""

from __future__ import annotations

from devkit.localkafka import LocalKafka
from jigsaw.config import KafkaSettings
from jigsaw.errors import ConfigError


def local_bootstrap(given: str | None) -> str:
    """``given``, else the running local broker's address, else a clear error."""
    if given:
        return given
    status = LocalKafka(progress=lambda _: None).status()
    if not status.running or status.bootstrap is None:
        raise ConfigError("no --bootstrap given and the local Kafka is not running: run `jigsaw kafka up`")
    return status.bootstrap


def kafka_for(configured: KafkaSettings, given: str | None, principal: str) -> KafkaSettings:
    """How a command reaches Kafka, as ``principal``.

    A ``--bootstrap`` flag, or a bootstrap in the settings (environment or config file), means a cluster of
    the user's: their settings, with their credential. Otherwise the running local Kafka, signed in as
    ``principal`` with the credential it made for it; the settings' other fields (prefix, client id) stay.
    """
    auth = {"credentials", "sasl_username", "sasl_password", "tls", "security_protocol"}
    kept = {f: getattr(configured, f) for f in configured.model_fields_set - {"bootstrap"}}
    if given:
        if not auth & configured.model_fields_set and LocalKafka(progress=lambda _: None).serves(given):
            return LocalKafka(progress=lambda _: None).client(principal, **kept)
        return configured.model_copy(update={"bootstrap": given})
    if "bootstrap" in configured.model_fields_set:
        return configured
    local_bootstrap(None)  # the clear error when the local Kafka is not running
    return LocalKafka(progress=lambda _: None).client(principal, **kept)
