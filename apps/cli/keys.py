"""``jigsaw keys init | show | publish | revoke``: participants' keys and the signed key directory."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import click
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from apps.cli.common import kafka_for
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.config import KeystoreSettings
from jigsaw.errors import ConfigError
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import issue_key_record
from jigsaw.wire.keys import Keystore, ParticipantKeys

ROLES = ["AGENCY_CONNECTOR", "BROKER", "SUBSCRIBER", "HUB", "ADMIN"]
REASONS = ["SUPERSEDED", "KEY_COMPROMISE", "CESSATION_OF_OPERATION", "AFFILIATION_CHANGED", "UNSPECIFIED"]


class KeysSettings(BaseSettings, KeystoreSettings):
    """``JIGSAW_KEYS__DIR``, ``JIGSAW_KEYS__PASSPHRASE``, ``JIGSAW_KEYS__ROOT_ID``."""

    model_config = SettingsConfigDict(env_prefix="JIGSAW_KEYS__", frozen=True, extra="forbid")

    root_id: str = "admin.root"

    def keystore(self) -> Keystore:
        if self.passphrase is None:
            raise ConfigError("set JIGSAW_KEYS__PASSPHRASE: keystores are encrypted at rest under it")
        return super().keystore()


def root_public_path(settings: KeysSettings) -> Path:
    return settings.root_public or settings.dir / "root.pub"


@click.group()
def keys() -> None:
    """Participants' signing and key-agreement keys, and the admin-signed key directory."""


@keys.command()
@click.argument("participant")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--agency", default=None, help="The agency type, for an agency connector.")
def init(participant: str, role: str, agency: str | None) -> None:
    """Create PARTICIPANT's keystore, or add a new epoch to it (a rotation)."""
    settings = KeysSettings()
    store = settings.keystore()
    if store.exists(participant):
        keys = store.load(participant)
        gen = keys.rotate()
        action = "rotated to"
    else:
        keys = ParticipantKeys.generate(participant, role, agency)
        gen = keys.current
        action = "created with"
    path = store.save(keys)
    if role == "ADMIN" and participant == settings.root_id:
        root_public_path(settings).write_text(base64.b64encode(gen.sign_public).decode() + "\n")
    click.echo(f"{participant}: {action} epoch {gen.epoch} ({gen.sign_kid}, {gen.kex_kid}) in {path}")


@keys.command()
@click.argument("participant")
def show(participant: str) -> None:
    """Print PARTICIPANT's public keys (no passphrase needed)."""
    public = KeysSettings().model_copy(update={"passphrase": SecretStr("")}).keystore().public(participant)
    click.echo(json.dumps(public, indent=2))


async def _publish(bootstrap: str | None, records: list[tuple[bytes, bytes]]) -> None:
    from apps.cli.kafka import AdminSettings

    # Only the operator writes the key directory: the ACLs give every participant read access alone.
    kafka = kafka_for(AdminSettings().kafka, bootstrap, "admin")
    topic = Topics().keys
    await ensure_topics(kafka, [s for s in Topics().specs([], []) if s.name == topic])
    async with Producer(kafka) as producer:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)


DAY_US = 86_400 * 1_000_000
VALID_DAYS = 365


def _issue(
    participant: str,
    epoch: int | None,
    revoke_reason: str | None,
    public_file: Path | None = None,
    valid_days: int | None = VALID_DAYS,
) -> list[tuple[bytes, bytes]]:
    settings = KeysSettings()
    store = settings.keystore()
    root = store.load(settings.root_id)
    public = json.loads(public_file.read_text()) if public_file else store.public(participant)
    # By default only the newest epoch: re-publishing older ones could bring a revoked key back.
    wanted = epoch if epoch is not None else max(g["epoch"] for g in public["generations"])
    gens = [g for g in public["generations"] if g["epoch"] == wanted]
    if not gens:
        raise ConfigError(f"{participant} has no epoch {epoch}")
    registry = SchemaRegistry.load()
    return [
        issue_key_record(
            registry,
            root,
            g,
            participant_id=participant,
            role=public["role"],
            agency=public["agency"],
            revoked=revoke_reason is not None,
            revocation_reason=revoke_reason,
            not_after=None if valid_days is None else int(g["created_at"]) + valid_days * DAY_US,
        )
        for g in gens
    ]


@keys.command()
@click.argument("participant")
@click.option("--epoch", type=int, default=None, help="This epoch (default: the newest).")
@click.option("--public", "public_file", type=click.Path(path_type=Path), default=None,
              help="The `keys show` output, when the keystore is on another machine.")  # fmt: skip
@click.option("--valid-days", type=click.IntRange(min=1), default=VALID_DAYS, show_default=True,
              help="Days from the key's creation until it expires.")  # fmt: skip
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
def publish(
    participant: str, epoch: int | None, public_file: Path | None, valid_days: int, bootstrap: str | None
) -> None:
    """Sign PARTICIPANT's public keys with the admin root and publish them to the key directory."""
    records = _issue(participant, epoch, None, public_file, valid_days)
    asyncio.run(_publish(bootstrap, records))
    click.echo(f"published {len(records)} key record(s) for {participant}")


@keys.command()
@click.argument("participant")
@click.option("--epoch", type=int, required=True)
@click.option("--reason", type=click.Choice(REASONS), default="SUPERSEDED", show_default=True)
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
def revoke(participant: str, epoch: int, reason: str, bootstrap: str | None) -> None:
    """Revoke one epoch of PARTICIPANT's keys. New messages under it are refused from now on."""
    records = _issue(participant, epoch, reason)
    asyncio.run(_publish(bootstrap, records))
    click.echo(f"revoked {participant} epoch {epoch} ({reason})")
