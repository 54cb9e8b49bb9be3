"""The shared store on PostgreSQL, for services that run more than one instance.

It keeps ``Store``'s shape: state, offsets and outbox in one transaction, and takes the same SQL as the
SQLite store (the services' statements are written once, in SQLite's dialect). ``translate`` rewrites
each statement once: ``?`` placeholders, ``INSERT OR IGNORE`` / ``OR REPLACE`` as ``ON CONFLICT``, a
two-argument ``max`` as ``GREATEST``, and SQLite's column types in the schema. Each service keeps its
tables in its own PostgreSQL schema (``search_path``), so one database can hold the broker and every hub.

psycopg 3 is the driver. The store runs its transactions on psycopg's synchronous connection, inside the
consume loop's handler, as it does SQLite's: the handlers are synchronous and a transaction holds no
``await``, which is what keeps a rebalance from landing between a record's writes and its offset.
Credentials and TLS come from the URL or libpq's environment (``PGPASSWORD``, ``PGSSLMODE``,
``PGSSLROOTCERT``): see docs/operations.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import postgres, sql
from psycopg.adapt import Dumper

from jigsaw.bus.store import _KERNEL_SCHEMA, BaseStore, Tx
from jigsaw.errors import ConfigError
from jigsaw.lifecycle import ClosedError

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_UPSERT = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+(\w+)\s*(\(([^)]*)\))?", re.I | re.S)
# SQLite's named parameters (``:name``), never a PostgreSQL cast (``::type``).
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_MAX2 = re.compile(r"\bmax\(\s*([\w.?]+)\s*,\s*([\w.?]+)\s*\)", re.I)
_TYPES = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    # SQLite compares text bytewise; so does the C collation, whatever the database's default.
    (re.compile(r"\bTEXT\b", re.I), 'TEXT COLLATE "C"'),
    (re.compile(r"\)\s*WITHOUT\s+ROWID", re.I), ")"),
)


class _BoolAsInt(Dumper):
    """SQLite keeps booleans as integers, and the schemas say INTEGER: so does this store."""

    oid = postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def ddl(schema: str) -> list[str]:
    """SQLite ``CREATE`` statements as PostgreSQL's, one statement each."""
    text = re.sub(r"--[^\n]*", "", schema)
    out = []
    for statement in text.split(";"):
        statement = statement.strip()
        if not statement:
            continue
        for pattern, replacement in _TYPES:
            statement = pattern.sub(replacement, statement)
        out.append(statement)
    return out


def translate(statement: str, keys: dict[str, tuple[list[str], list[str]]]) -> str:
    """One statement in SQLite's dialect as PostgreSQL's. ``keys`` maps each table to its primary key's
    columns and all its columns, for ``INSERT OR REPLACE``."""
    if statement.lstrip()[:6].upper() == "CREATE":
        (statement,) = ddl(statement)
    out = _MAX2.sub(r"GREATEST(\1, \2)", statement)
    out = _NAMED.sub(r"%(\1)s", out.replace("%", "%%").replace("?", "%s"))
    m = _UPSERT.match(out)
    if m is None:
        return out
    verb, table, columns = m.group(1).upper(), m.group(2), m.group(4)
    out = f"INSERT INTO {table}{' (' + columns + ')' if columns else ''} " + out[m.end() :].lstrip()
    if verb == "IGNORE":
        return out + " ON CONFLICT DO NOTHING"
    if table not in keys:
        raise ConfigError(f"INSERT OR REPLACE into {table}, which has no primary key in this store")
    pk, every = keys[table]
    named = [c.strip() for c in columns.split(",")] if columns else every
    rest = [c for c in named if c not in pk]
    if not rest:
        return out + f" ON CONFLICT ({', '.join(pk)}) DO NOTHING"
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
    return out + f" ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}"


class _Conn:
    """A psycopg connection that takes the SQLite dialect, as ``Tx`` and the services write it."""

    def __init__(self, conn: psycopg.Connection[Any], keys: dict[str, tuple[list[str], list[str]]]):
        self.raw = conn
        self.keys = keys
        self._translate = functools.lru_cache(maxsize=1024)(lambda s: translate(s, self.keys))

    def execute(
        self, statement: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> psycopg.Cursor[Any]:
        bound = params if isinstance(params, Mapping) else tuple(params)
        return self.raw.execute(self._translate(statement), bound)

    def executemany(self, statement: str, params: Any) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(self._translate(statement), list(params))
        return cur

    def close(self) -> None:
        self.raw.close()


def _connect(url: str, name: str) -> psycopg.Connection[Any]:
    """A session that cannot hang the service: a stopped or partitioned instance's open transaction is
    ended by the server after a few seconds, freeing its locks for the partitions' new owner, and a lock or
    statement wait ends in an error (the batch is retried) rather than holding the event loop. These take
    precedence over the same settings in the URL."""
    raw = psycopg.connect(
        url, autocommit=True, application_name=name, connect_timeout=10, keepalives=1, keepalives_idle=30
    )
    for setting, value in _SESSION.items():
        raw.execute(sql.SQL("SET {} = {}").format(sql.Identifier(setting), sql.Literal(value)))
    return raw


_SESSION = {
    "idle_in_transaction_session_timeout": "5s",
    "lock_timeout": "8s",
    "statement_timeout": "30s",
}


class _Reader(_Conn):
    """A reader's connection, opened again when PostgreSQL restarted or the network dropped it."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], keys: dict[str, Any]) -> None:
        super().__init__(connect(), keys)
        self._connect = connect
        self._closed = False

    def execute(
        self, statement: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> psycopg.Cursor[Any]:
        if self._closed:
            raise ClosedError("the store's reader is closed")
        if self.raw.broken or self.raw.closed:
            self._reconnect()
        try:
            return super().execute(statement, params)
        except psycopg.OperationalError:
            if not self.raw.broken:
                raise
        # The server went since the last read (a restart, a failover): a read may simply be asked again.
        self._reconnect()
        return super().execute(statement, params)

    def _reconnect(self) -> None:
        log.warning("the store's reader connection was lost; reconnecting")
        self.raw = self._connect()

    def close(self) -> None:
        self._closed = True
        self.raw.close()


class PgStore(BaseStore):
    """PostgreSQL at ``url``, the service's tables in ``schema_name``. ``schema`` is the same SQLite DDL
    the service gives ``Store``."""

    _lock_clause = " FOR UPDATE"
    shared = True
    transient = (psycopg.OperationalError, psycopg.InterfaceError)

    def __init__(self, url: str, schema_name: str, schema: str = "", owner: str = "jigsaw") -> None:
        super().__init__()
        if not _SCHEMA_NAME.match(schema_name):
            raise ConfigError(f"store schema {schema_name!r}: lower-case letters, digits and _ only")
        self._url = url
        self.schema_name = schema_name
        self.where = f"postgresql schema {schema_name}"
        self._schema = schema
        self.owner = owner
        self._conn: _Conn | None = None

    def open(self) -> None:
        if self._conn is not None:
            return
        try:
            raw = _connect(self._url, f"jigsaw {self.owner}")
        except psycopg.Error as exc:
            raise ConfigError(f"the store's PostgreSQL cannot be reached: {type(exc).__name__}") from exc
        raw.adapters.register_dumper(bool, _BoolAsInt)
        name = sql.Identifier(self.schema_name)
        # Instances starting together would race to create the same tables: one at a time.
        with raw.transaction():
            raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema_name,))
            raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
            raw.execute(sql.SQL("SET search_path TO {}").format(name))
            for statement in ddl(_KERNEL_SCHEMA + self._schema):
                raw.execute(statement)
            raw.execute("ALTER TABLE kernel_outbox ADD COLUMN IF NOT EXISTS source BIGINT")
        raw.execute(sql.SQL("SET search_path TO {}").format(name))
        self._conn = _Conn(raw, self._keys(raw))

    def _reader_session(self) -> psycopg.Connection[Any]:
        raw = _connect(self._url, f"jigsaw {self.owner} reader")
        raw.adapters.register_dumper(bool, _BoolAsInt)
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema_name)))
        # Values bound in the client: the readers' queries test optional filters with ``:rag IS NULL``,
        # whose type PostgreSQL cannot infer from a parameter sent apart from the statement.
        raw.cursor_factory = psycopg.ClientCursor
        return raw

    def reader(self) -> _Conn:
        return _Reader(self._reader_session, self.conn.keys)

    def existing_reader(self) -> _Conn:
        """A reader of a schema that must exist already, without opening the store: a command that only
        reads (``case show``, ``report``) must never create a schema or a table, and a misspelt one is
        an error rather than an empty store."""
        try:
            raw = self._reader_session()
        except psycopg.Error as exc:
            raise ConfigError(f"the store's PostgreSQL cannot be reached: {type(exc).__name__}") from exc
        try:
            found = raw.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.schema_name,)
            ).fetchone()
            if found is None:
                raise ConfigError(f"no store at {self.where}: no service has opened it")
            keys = self._keys(raw)
        finally:
            raw.close()
        return _Reader(self._reader_session, keys)

    # -- updates across instances: NOTIFY on commit, LISTEN in every instance -------------------------
    @property
    def channel(self) -> str:
        return f"jigsaw_{self.schema_name}"[:63]

    def notify(self, payload: str) -> None:
        """Tell every instance listening on this schema's channel (itself included). Outside a
        transaction it is sent at once; inside one, when that commits."""
        self.conn.raw.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))

    async def listen(self) -> AsyncIterator[str]:
        """The payloads ``notify`` sends, from any instance, for as long as the caller iterates. A lost
        connection is opened again; what was sent meanwhile is not replayed."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, application_name=f"jigsaw {self.owner} listener"
                ) as aconn:
                    await aconn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    async for note in aconn.notifies():
                        yield note.payload
            except (psycopg.Error, OSError) as exc:
                log.warning("the store's update channel was lost (%s); listening again", type(exc).__name__)
                await asyncio.sleep(1.0)

    def _keys(self, raw: psycopg.Connection[Any]) -> dict[str, tuple[list[str], list[str]]]:
        every: dict[str, list[str]] = {}
        for table, column in raw.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
            " ORDER BY table_name, ordinal_position",
            (self.schema_name,),
        ):
            every.setdefault(table, []).append(column)
        pk: dict[str, list[str]] = {}
        for table, column in raw.execute(
            "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name"
            " AND k.table_schema = tc.table_schema"
            " WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s ORDER BY k.ordinal_position",
            (self.schema_name,),
        ):
            pk.setdefault(table, []).append(column)
        return {t: (pk[t], every[t]) for t in pk}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.raw.close()
            self._conn = None

    @property
    def conn(self) -> _Conn:
        if self._conn is None:
            raise ClosedError(f"store {self.where} is not open")
        if self._conn.raw.broken or self._conn.raw.closed:
            # PostgreSQL restarted or the network dropped: a new session (the failed transaction is
            # retried by the loop, from the stored offsets).
            log.warning("the store's PostgreSQL connection was lost; reconnecting")
            self._conn = None
            self.open()
            assert self._conn is not None  # noqa: S101 - open() sets it or raises
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self.conn
        conn.raw.execute("BEGIN")
        try:
            yield Tx(conn, self)
        except BaseException:
            if not conn.raw.broken:
                conn.raw.execute("ROLLBACK")
            raise
        conn.raw.execute("COMMIT")

    def purge(self) -> None:
        """Drop this service's schema and everything in it (tests, and a rebuild from the topics)."""
        self.close()
        with psycopg.connect(self._url, autocommit=True) as raw:
            raw.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema_name)))
