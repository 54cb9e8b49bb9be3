"""A local SQLite store that commits a service's state, its consumed offsets and its outbox together.

This is how Jigsaw gets effectively-once processing without Kafka transactions (see the design's
"Exactly once" section and docs/architecture.md): a record's effects, the offset after it and whatever it
must publish are one local transaction. After a crash the service seeks to the stored offsets, so no input
is applied twice or skipped, and the outbox publisher sends what was committed but not yet acknowledged.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jigsaw.errors import Replay
from jigsaw.files import private_file
from jigsaw.lifecycle import ClosedError

_KERNEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS kernel_offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS kernel_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, partition INTEGER, key BLOB, value BLOB NOT NULL, headers BLOB NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kernel_seen (
    msg_id TEXT PRIMARY KEY, sender TEXT NOT NULL, digest BLOB NOT NULL, seen_at REAL NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    topic: str
    partition: int | None
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    enqueued_at: float


def _pack_headers(headers: Sequence[tuple[str, bytes]]) -> bytes:
    # Length-prefixed pairs: header names and values are arbitrary bytes, so no separator is safe.
    out = bytearray()
    for name, value in headers:
        raw = name.encode()
        out += len(raw).to_bytes(2, "big") + raw + len(value).to_bytes(4, "big") + value
    return bytes(out)


def _unpack_headers(blob: bytes) -> list[tuple[str, bytes]]:
    out, i = [], 0
    while i < len(blob):
        n = int.from_bytes(blob[i : i + 2], "big")
        name = blob[i + 2 : i + 2 + n].decode()
        i += 2 + n
        m = int.from_bytes(blob[i : i + 4], "big")
        out.append((name, blob[i + 4 : i + 4 + m]))
        i += 4 + m
    return out


class Tx:
    """One open transaction. Handlers write their own tables through ``execute``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.enqueued = 0

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def next_offset(self, topic: str, partition: int) -> int:
        """The offset after the last record this store committed for the partition (0 if none)."""
        row = self.conn.execute(
            "SELECT next_offset FROM kernel_offsets WHERE topic = ? AND partition = ?", (topic, partition)
        ).fetchone()
        return int(row[0]) if row else 0

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        self.conn.execute(
            "INSERT INTO kernel_offsets VALUES (?, ?, ?) ON CONFLICT(topic, partition)"
            " DO UPDATE SET next_offset = excluded.next_offset",
            (topic, partition, next_offset),
        )

    def enqueue(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> None:
        """Queue a record to publish once this transaction commits. ``partition`` pins where it lands
        (the audit chain is per partition); by default the key decides."""
        self.conn.execute(
            "INSERT INTO kernel_outbox (topic, partition, key, value, headers, enqueued_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (topic, partition, key, value, _pack_headers(headers), time.time()),
        )
        self.enqueued += 1

    def first_seen(self, msg_id: str, value: bytes = b"", sender: str = "") -> bool:
        """Record ``msg_id`` as ``sender``'s. False for an exact copy of a message seen before: a duplicate.

        The same id with different content is not a retry's duplicate but a replay, and raises ``Replay``;
        so does an id first used by another sender, which only the first sender can have been given: call
        this once the signature and the sender's authority are checked, so that no one can claim an id
        (and have the real message refused) by sending first under it.
        """
        digest = hashlib.sha256(value).digest()
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO kernel_seen VALUES (?, ?, ?, ?)", (msg_id, sender, digest, time.time())
        )
        if cur.rowcount == 1:
            return True
        known_sender, known = self.conn.execute(
            "SELECT sender, digest FROM kernel_seen WHERE msg_id = ?", (msg_id,)
        ).fetchone()
        if known_sender != sender:
            raise Replay(f"msg_id {msg_id} is another sender's")
        if known != digest:
            raise Replay(f"msg_id {msg_id} was seen before with different content")
        return False


class Store:
    """SQLite in WAL mode. ``schema`` holds the owning service's own ``CREATE TABLE`` statements."""

    def __init__(self, path: Path, schema: str = "") -> None:
        self.path = path
        self._schema = schema
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        if self._conn is not None:
            return
        # The store holds what the service decrypted or sealed; no other account may read it or its WAL.
        private_file(self.path)
        for journal in ("-wal", "-shm"):
            if (sidecar := self.path.with_name(self.path.name + journal)).exists():
                private_file(sidecar)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); only an OS crash can lose the last
        # transactions, and those are then re-read from Kafka because their offsets went with them.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_KERNEL_SCHEMA + self._schema)
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ClosedError(f"store {self.path} is not open")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def offsets(self) -> dict[tuple[str, int], int]:
        rows = self.conn.execute("SELECT topic, partition, next_offset FROM kernel_offsets")
        return {(t, p): o for t, p, o in rows}

    def outbox_batch(self, limit: int) -> list[OutboxRow]:
        rows = self.conn.execute(
            "SELECT seq, topic, partition, key, value, headers, enqueued_at FROM kernel_outbox"
            " ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [OutboxRow(s, t, p, k, v, _unpack_headers(h), e) for s, t, p, k, v, h, e in rows]

    def outbox_done(self, seqs: Sequence[int]) -> None:
        # One range delete per run of consecutive numbers (usually the whole batch), not one per row.
        runs: list[list[int]] = []
        for s in sorted(seqs):
            if runs and s == runs[-1][1] + 1:
                runs[-1][1] = s
            else:
                runs.append([s, s])
        self.conn.executemany("DELETE FROM kernel_outbox WHERE seq BETWEEN ? AND ?", runs)

    def outbox_span(self) -> int:
        """At least the number of rows waiting in the outbox (the span of their numbers), read from the
        primary key's ends alone, so cheap enough to ask before every record."""
        lo, hi = self.conn.execute("SELECT min(seq), max(seq) FROM kernel_outbox").fetchone()
        return 0 if lo is None else int(hi) - int(lo) + 1

    def outbox_stats(self) -> tuple[int, float]:
        n, oldest = self.conn.execute("SELECT count(*), min(enqueued_at) FROM kernel_outbox").fetchone()
        return int(n), (time.time() - oldest) if oldest is not None else 0.0
