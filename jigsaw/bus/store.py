"""The store that commits a service's state, its consumed offsets and its outbox together: SQLite here
(the embedded default), PostgreSQL in ``jigsaw.bus.pgstore`` for instances that share one.

This is how Jigsaw gets effectively-once processing without Kafka transactions (see the design's
"Exactly once" section and docs/architecture.md): a record's effects, the offset after it and whatever it
must publish are one local transaction. After a crash the service seeks to the stored offsets, so no input
is applied twice or skipped, and the outbox publisher sends what was committed but not yet acknowledged.

Instances of one service that share a store (PostgreSQL) split the input partitions in their consumer
group. Each claims a partition on assignment, which raises that partition's generation in
``kernel_owners``; committing an offset checks the claim under the row's lock, so an instance that was
paused past its session timeout (a zombie) fails with ``Fenced`` instead of committing over the new owner.
Each outbox row carries the input partition it came from, and an instance publishes only the rows of the
partitions it owns (and those of none), so the new owner picks up what the old one left unpublished.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jigsaw.errors import Fenced, Replay
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
CREATE TABLE IF NOT EXISTS kernel_owners (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, generation INTEGER NOT NULL, owner TEXT NOT NULL,
    claimed_at REAL NOT NULL, PRIMARY KEY (topic, partition)
);
"""
# Added after stores existed: a store written before it gains the column when it opens.
_OUTBOX_SOURCE = "ALTER TABLE kernel_outbox ADD COLUMN source INTEGER"

log = logging.getLogger(__name__)


class Cursor(Protocol):
    """What the stores' cursors share (``sqlite3.Cursor``, psycopg's ``Cursor``)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection that takes SQLite's dialect (``?`` parameters, ``INSERT OR IGNORE``)."""

    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Any, /) -> Any: ...

    def close(self) -> None: ...


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

    def __init__(self, conn: Conn, store: BaseStore | None = None) -> None:
        self.conn = conn
        self.enqueued = 0
        # The input partition whose record is being applied: its outbox rows are that partition's.
        self.source: int | None = None
        self._store = store

    def execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        cur: Cursor = self.conn.execute(sql, params)
        return cur

    def next_offset(self, topic: str, partition: int) -> int:
        """The offset after the last record this store committed for the partition (0 if none)."""
        row = self.conn.execute(
            "SELECT next_offset FROM kernel_offsets WHERE topic = ? AND partition = ?", (topic, partition)
        ).fetchone()
        return int(row[0]) if row else 0

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        self.fence(topic, partition)
        self.conn.execute(
            "INSERT INTO kernel_offsets VALUES (?, ?, ?) ON CONFLICT(topic, partition)"
            " DO UPDATE SET next_offset = excluded.next_offset",
            (topic, partition, next_offset),
        )

    def fence(self, topic: str, partition: int) -> None:
        """Raise ``Fenced`` unless this instance's claim on the partition is still the latest. Under the
        owner row's lock, so a claim by a new owner waits for this transaction, or this one sees it."""
        if self._store is not None:
            self._store.check_claim(self, topic, partition)

    def fence_partition(self, partition: int) -> None:
        """``fence`` for every input topic's ``partition`` this instance claimed (the audit chains are per
        partition number, across the input topics)."""
        if self._store is not None:
            mine = [topic for topic, p in self._store.claimed() if p == partition]
            if not mine and not self._store.owns_partition(partition):
                raise Fenced(f"partition {partition} is not this instance's ({self._store.owner})")
            for topic in mine:
                self._store.check_claim(self, topic, partition)

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
        source = self.source if self.source is not None else partition
        self.conn.execute(
            "INSERT INTO kernel_outbox (topic, partition, key, value, headers, enqueued_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (topic, partition, key, value, _pack_headers(headers), time.time(), source),
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
        if bytes(known) != digest:
            raise Replay(f"msg_id {msg_id} was seen before with different content")
        return False


class BaseStore:
    """What both stores do with the kernel tables; a subclass opens the connection and begins."""

    # The owner row is read with this lock (PostgreSQL: FOR UPDATE; SQLite's BEGIN IMMEDIATE locks all).
    _lock_clause = ""
    # A store others share starts scoped: its outbox rows of unclaimed partitions are another instance's.
    shared = False
    # Errors of the store itself, not of a record (a lost connection, a lock or statement timeout, a busy
    # file): the record is tried again later, never dead-lettered for them.
    transient: tuple[type[BaseException], ...] = ()
    where = "store"

    def __init__(self) -> None:
        self._claims: dict[tuple[str, int], int] = {}
        self._scoped = self.shared
        self.owner = "jigsaw"

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def not_ready(self) -> str | None:
        """A readiness check: the store's connection is open (a lost PostgreSQL one is dropped)."""
        return None if getattr(self, "_conn", None) is not None else f"store {self.where} is not open"

    @property
    def conn(self) -> Conn:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def reader(self) -> Conn:
        """A second connection, for readers beside the writer (an API): it sees committed data only. The
        caller closes it."""
        raise NotImplementedError

    # -- ownership --------------------------------------------------------------------------------
    def claim(self, partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Take ``partitions`` over (on assignment, before reading their offsets): each one's generation
        goes up by one, so the previous owner can no longer commit for it. The new generations."""
        self._scoped = True
        with self.transaction() as tx:
            for topic, partition in sorted(partitions):
                tx.execute(
                    "INSERT INTO kernel_owners VALUES (?, ?, 1, ?, ?) ON CONFLICT(topic, partition)"
                    " DO UPDATE SET generation = kernel_owners.generation + 1, owner = excluded.owner,"
                    " claimed_at = excluded.claimed_at",
                    (topic, partition, self.owner, time.time()),
                )
                row = tx.execute(
                    "SELECT generation FROM kernel_owners WHERE topic = ? AND partition = ?",
                    (topic, partition),
                ).fetchone()
                self._claims[(topic, partition)] = int(row[0])
        return {tp: self._claims[tp] for tp in partitions}

    def release(self, partitions: Sequence[tuple[str, int]]) -> None:
        """Forget ``partitions`` (revoked): their rows stay for whoever claims them next."""
        for tp in partitions:
            self._claims.pop(tp, None)

    # The consume loop's partition listener: claim on assignment, forget on revocation.
    def assigned(self, partitions: list[tuple[str, int]]) -> None:
        self.claim(partitions)

    def revoked(self, partitions: list[tuple[str, int]]) -> None:
        self.release(partitions)

    def claimed(self) -> list[tuple[str, int]]:
        return sorted(self._claims)

    def owns_partition(self, partition: int) -> bool:
        return not self._scoped or any(p == partition for _, p in self._claims)

    def check_claim(self, tx: Tx, topic: str, partition: int) -> None:
        held = self._claims.get((topic, partition))
        if held is None:
            if self._scoped:
                raise Fenced(f"{topic}[{partition}] is not this instance's ({self.owner}): it was revoked")
            return
        row = tx.execute(
            # The lock clause is one of two constants, never input.
            "SELECT generation, owner FROM kernel_owners WHERE topic = ? AND partition = ?"  # noqa: S608
            + self._lock_clause,
            (topic, partition),
        ).fetchone()
        if row is None or int(row[0]) != held:
            now, owner = (int(row[0]), row[1]) if row else (0, "nobody")
            log.error(
                "fenced: %s[%d] is at generation %d (%s), this instance (%s) held %d; stopping",
                topic,
                partition,
                now,
                owner,
                self.owner,
                held,
            )
            raise Fenced(
                f"{topic}[{partition}] moved to generation {now} ({owner}); this instance held {held}"
            )

    # -- offsets and outbox -----------------------------------------------------------------------
    def offsets(self) -> dict[tuple[str, int], int]:
        rows = self.conn.execute("SELECT topic, partition, next_offset FROM kernel_offsets", ())
        return {(t, p): o for t, p, o in rows}

    def _scope(self) -> tuple[str, list[int]]:
        if not self._scoped:
            return "", []
        mine = sorted({p for _, p in self._claims})
        marks = ", ".join("?" for _ in mine)
        return (f" WHERE source IS NULL OR source IN ({marks})" if mine else " WHERE source IS NULL"), mine

    def outbox_batch(self, limit: int) -> list[OutboxRow]:
        where, mine = self._scope()
        rows = self.conn.execute(
            # ``where`` holds placeholders only; the partitions go as parameters.
            "SELECT seq, topic, partition, key, value, headers, enqueued_at FROM kernel_outbox"  # noqa: S608
            + where
            + " ORDER BY seq LIMIT ?",
            (*mine, limit),
        )
        return [
            OutboxRow(s, t, p, None if k is None else bytes(k), bytes(v), _unpack_headers(bytes(h)), e)
            for s, t, p, k, v, h, e in rows
        ]

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
        lo, hi = self.conn.execute("SELECT min(seq), max(seq) FROM kernel_outbox", ()).fetchone()
        return 0 if lo is None else int(hi) - int(lo) + 1

    def outbox_stats(self) -> tuple[int, float]:
        n, oldest = self.conn.execute("SELECT count(*), min(enqueued_at) FROM kernel_outbox", ()).fetchone()
        return int(n), (time.time() - oldest) if oldest is not None else 0.0


class Store(BaseStore):
    """SQLite in WAL mode. ``schema`` holds the owning service's own ``CREATE TABLE`` statements."""

    transient = (sqlite3.OperationalError,)

    def __init__(self, path: Path, schema: str = "") -> None:
        super().__init__()
        self.path = path
        self.where = str(path)
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
        if "source" not in {row[1] for row in conn.execute("PRAGMA table_info(kernel_outbox)")}:
            conn.execute(_OUTBOX_SOURCE)
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

    def reader(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, check_same_thread=False)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn, self)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
