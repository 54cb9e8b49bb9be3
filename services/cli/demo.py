"""``jigsaw demo``: the main job on the embedded defaults.

Until the reference connectors, the synthetic data and the scenarios exist, the demo brings up the local
Kafka, creates the deployment's topics and reports what is running.
"""

from __future__ import annotations

import asyncio

import click

from jigsaw.bus.admin import ensure_topics
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from services.localkafka import LocalKafka

AGENCIES = ["police", "health", "education", "socialcare", "probation", "youthjustice", "housing"]
SUBSCRIBERS = ["csc-mash", "police-mash", "health-mash", "partner-hub"]


@click.command()
@click.option("--once", is_flag=True, help="Run once, print a summary and exit.")
def demo(once: bool) -> None:
    """Run Jigsaw on the embedded defaults: local Kafka and the deployment's topics."""
    status = LocalKafka().up()
    assert status.bootstrap is not None  # noqa: S101 - up() returns only a running broker
    kafka = KafkaSettings(bootstrap=status.bootstrap)
    created = asyncio.run(ensure_topics(kafka, Topics().specs(AGENCIES, SUBSCRIBERS)))
    click.echo(f"Kafka: pid {status.pid} at {status.bootstrap}")
    click.echo(f"topics: {len(created)} created, {len(Topics().specs(AGENCIES, SUBSCRIBERS))} in all")
    if not once:
        click.echo("Kafka keeps running; stop it with `make kafka-down`.")
