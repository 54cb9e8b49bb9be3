"""How far the services in other processes have got, read from their stores (SQLite, or the shared
PostgreSQL) while they run."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from pydantic import SecretStr

from devkit.testkit.broker import kernel_state
from jigsaw.bus.pgstore import PgStore
from jigsaw.config import StoreSettings


def backlog(d: Path) -> str:
    """The broker's outbox depth, for the progress line: where a backlog builds up when one does."""
    db = d / "broker.sqlite"
    if not db.exists():
        return ""
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=1)) as conn:
            (n,) = conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()
    except sqlite3.Error:
        return ""
    return f", {n} records in the broker's outbox"


async def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


Progress = tuple[dict[tuple[str, int], int], int]  # the stored offset of each partition; outbox rows


def _caught_up(
    read: Callable[[], Progress | None], ends: dict[Any, int], outbox_empty: bool
) -> Callable[[], bool]:
    def check() -> bool:
        if (progress := read()) is None:
            return False
        stored, queued = progress
        done = all(stored.get((tp.topic, tp.partition), 0) >= e for tp, e in ends.items())
        return done and (queued == 0 or not outbox_empty)

    return check


def caught_up(db: Path, ends: dict[Any, int], outbox_empty: bool = True) -> Callable[[], bool]:
    def read() -> Progress | None:
        return kernel_state(StoreSettings(), db, "")

    return _caught_up(read, ends, outbox_empty)


# -- the shared PostgreSQL store: ``url`` carries a password, so no message here ever shows it -------------


def _pg_rows(url: str, schema: str, query: LiteralString) -> list[tuple[Any, ...]] | None:
    """``query``'s rows in ``schema``; None while the service has not made its tables yet."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            return list(conn.execute(query))
    except psycopg.errors.UndefinedTable:
        return None


def pg_caught_up(
    url: str, schema: str, ends: dict[Any, int], outbox_empty: bool = True
) -> Callable[[], bool]:
    """``caught_up`` for the services that keep their store in PostgreSQL's ``schema``."""

    def read() -> Progress | None:
        return kernel_state(StoreSettings(url=SecretStr(url), schema_name=schema), Path(), "")

    return _caught_up(read, ends, outbox_empty)


def pg_owners(url: str, schema: str) -> dict[tuple[str, int], tuple[int, str, float]]:
    """Who holds each input partition in the shared store (``instance_name``), at which generation, and
    since when (epoch seconds)."""
    query = "SELECT topic, partition, generation, owner, claimed_at FROM kernel_owners"
    return {(t, p): (g, o, at) for t, p, g, o, at in _pg_rows(url, schema, query) or []}


def pg_backends(url: str, application: str) -> list[tuple[int, str]]:
    """The server process serving each session whose application name starts with ``application``."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE starts_with(application_name, %s)",
            (application,),
        )
        return [(int(pid), name) for pid, name in rows]


def pg_drop(url: str, schemas: Iterable[str]) -> None:
    """Drop each of ``schemas`` and everything in it."""
    for schema in schemas:
        PgStore(url, schema).purge()
