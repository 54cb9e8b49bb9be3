"""``jigsaw connector run --config FILE``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click
from pydantic import SecretStr

from apps.cli.common import kafka_for
from jigsaw import logs
from jigsaw.lifecycle import install_stop_signals


@click.group()
def connector() -> None:
    """An agency's connector: answers enquiries from its own system."""


@connector.command()
@click.option(
    "--config", "path", type=click.Path(path_type=Path), required=True, help="The connector's YAML."
)
@click.option(
    "--bootstrap", default=None, help="Kafka bootstrap (default: the config's, else the local Kafka)."
)
def run(path: Path, bootstrap: str | None) -> None:
    """Run the connector until SIGTERM. The keystore passphrase is JIGSAW_CONNECTOR__KEYS__PASSPHRASE."""
    from connectors.sdk.app import run as run_connector
    from connectors.sdk.config import load_config

    config = load_config(path)
    passphrase = os.environ.get("JIGSAW_CONNECTOR__KEYS__PASSPHRASE")
    keys = config.keys.model_copy(update={"passphrase": SecretStr(passphrase)}) if passphrase else config.keys
    kafka = kafka_for(config.kafka, bootstrap, config.participant_id)
    config = config.model_copy(update={"keys": keys, "kafka": kafka})
    logs.bind(f"connector-{config.agency}", config.participant_id)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_connector(config, stop)

    asyncio.run(main())
