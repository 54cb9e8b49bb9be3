"""Which store a service opens: SQLite under its state directory, or the shared PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from jigsaw.bus.pgstore import PgStore
from jigsaw.bus.store import BaseStore, Store
from jigsaw.config import StoreSettings


def instance_name(participant: str) -> str:
    """Who holds a claim, for the fencing log lines: the participant, host and process."""
    return f"{participant}@{socket.gethostname()}:{os.getpid()}"


def schema_name(settings: StoreSettings, participant: str) -> str:
    """The PostgreSQL schema a service's tables live in: the configured one, or one named after it."""
    return settings.schema_name or re.sub(r"[^a-z0-9_]", "_", participant.lower())[:63]


def store_for(settings: StoreSettings, sqlite_path: Path, participant: str, schema: str) -> BaseStore:
    owner = instance_name(participant)
    if settings.url is None:
        store: BaseStore = Store(sqlite_path, schema)
        store.owner = owner
        return store
    return PgStore(settings.url.get_secret_value(), schema_name(settings, participant), schema, owner=owner)
