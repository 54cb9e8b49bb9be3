"""Helpers shared by the CLI's command groups."""

from __future__ import annotations

from devkit.localkafka import LocalKafka


def local_bootstrap(given: str | None) -> str:
    """``given``, else the running local broker's address, else a clear error."""
    if given:
        return given
    status = LocalKafka(progress=lambda _: None).status()
    if not status.running or status.bootstrap is None:
        from jigsaw.errors import ConfigError

        raise ConfigError("no --bootstrap given and the local Kafka is not running: run `jigsaw kafka up`")
    return status.bootstrap
