"""How far the services in other processes have got, read from their SQLite stores while they run."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def caught_up(db: Path, ends: dict[Any, int], outbox_empty: bool = True) -> Callable[[], bool]:
    def check() -> bool:
        if not db.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
                stored = {(t, p): o for t, p, o in conn.execute("SELECT * FROM kernel_offsets")}
                queued = conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()[0]
        except sqlite3.OperationalError:
            return False
        done = all(stored.get((tp.topic, tp.partition), 0) >= e for tp, e in ends.items())
        return done and (queued == 0 or not outbox_empty)

    return check
