"""A participant's Kafka credential: its SCRAM user and password, in a 0600 file beside its keystore.

The username is the participant id, so the Kafka principal (``User:<id>``) is the same whether it signs in
with SCRAM or with a TLS client certificate whose common name is the id. The file is JSON so that a rotation
can rewrite it atomically; the password never appears in settings dumps (it is a ``SecretStr``).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from jigsaw.errors import ConfigError
from jigsaw.files import write_private

Mechanism = Literal["SCRAM-SHA-512"]


class KafkaCredential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: SecretStr
    mechanism: Mechanism = "SCRAM-SHA-512"

    @classmethod
    def generate(cls, username: str) -> KafkaCredential:
        # 256 bits from the OS; URL-safe so it survives Kafka's `name=...,password=...` SCRAM syntax.
        return cls(username=username, password=SecretStr(secrets.token_urlsafe(32)))


def credential_path(directory: Path, participant: str) -> Path:
    """Where ``participant``'s credential lives: beside its keystore, ``<id>.keystore.json``."""
    return directory / f"{participant}.kafka.json"


def save_credential(directory: Path, credential: KafkaCredential) -> Path:
    path = credential_path(directory, credential.username)
    body = {
        "username": credential.username,
        "password": credential.password.get_secret_value(),
        "mechanism": credential.mechanism,
    }
    write_private(path, json.dumps(body).encode())
    return path


def load_credential(path: Path) -> KafkaCredential:
    try:
        return KafkaCredential.model_validate(json.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(
            f"no Kafka credential at {path}: create it with `jigsaw kafka users add` (or `jigsaw kafka up`"
            " for the local Kafka)"
        ) from exc
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path} is not a Kafka credential file (username, password, mechanism)") from exc
