"""A source adapter over any SQLAlchemy database; by default a SQLite file, opened read-only.

The engine is synchronous and each query runs in a worker thread: simple, and it works the same for
SQLite and for every dialect SQLAlchemy supports without needing an async driver.

An empty result is simply nothing held. A database that is down or busy is :class:`SourceUnavailable`; a
query the database refuses (bad SQL, a missing table, a write) is :class:`SourceMisconfigured`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc

from jigsaw.errors import ConfigError
from jigsaw.lifecycle import require

from .base import (
    SourceAdapter,
    SourceError,
    SourceMisconfigured,
    SourceUnavailable,
    only_requested,
    with_source_id,
)
from .config import bind_names

if TYPE_CHECKING:
    from .config import SqlSourceConfig

# SQLite reports mistakes in a query as OperationalError, the class other databases use for outages.
# "readonly": the file is opened read-only, so only a query that writes can meet it.
_SQL_MISTAKES = (
    "syntax error",
    "no such table",
    "no such column",
    "no such function",
    "ambiguous column",
    "readonly database",
)


class SqlAdapter(SourceAdapter):
    def __init__(self, config: SqlSourceConfig) -> None:
        super().__init__()
        self._config = config
        self._engine: sa.Engine | None = None
        self.name = "SQL source"
        self._person_binds = sorted(bind_names(config.persons_query))
        self._persons = sa.text(config.persons_query)
        if "dob" in self._person_binds:
            # Typed, so each dialect gets a date it understands (SQLite stores ISO text).
            self._persons = self._persons.bindparams(sa.bindparam("dob", type_=sa.Date))
        self._categories = {
            category: sa.text(sql).bindparams(sa.bindparam("source_ids", expanding=True))
            for category, sql in config.category_queries.items()
        }

    async def _start(self) -> None:
        url = _url(self._config.url.get_secret_value())
        self.name = _describe(url)
        self._engine = _engine(url)

    async def _stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.dispose)

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        params = {name: hint.get(name) for name in self._person_binds}
        rows = await self._run(self._persons, params, "persons_query")
        return self._people(rows, self._config.fields, "persons_query")

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        statement = self._categories.get(category)
        if statement is None:
            raise SourceMisconfigured(
                f"{self.name}: no query for category {category!r}; configured: {sorted(self._categories)}"
            )
        if not source_ids:
            return []
        rows = await self._run(statement, {"source_ids": list(source_ids)}, f"the {category!r} query")
        id_column = self._config.fields.get("source_id", "source_id")
        where = f"{self.name}: the {category!r} query"
        return only_requested([with_source_id(row, id_column, where) for row in rows], source_ids, where)

    async def _run(self, statement: sa.TextClause, params: dict[str, Any], what: str) -> list[dict[str, Any]]:
        engine = require(self._engine, "the database engine")
        try:
            return await asyncio.to_thread(_fetch, engine, statement, params)
        except exc.SQLAlchemyError as e:
            # Not chained: a driver's own message (PostgreSQL's 'invalid input syntax ... "943 476 5919"') may
            # quote a bound value, and a logged traceback would print it.
            raise _classify(e, f"{self.name}: {what}") from None


def _fetch(engine: sa.Engine, statement: sa.TextClause, params: dict[str, Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(statement, params)]


def _url(url_text: str) -> sa.URL:
    try:
        return sa.make_url(url_text)
    except exc.ArgumentError:
        # Not chained: the cause could echo the URL, password and all.
        raise ConfigError("the source url is not a valid SQLAlchemy database URL") from None


def _describe(url: sa.URL) -> str:
    """The database as messages name it: its kind, host and name, never the user or password."""
    database = (
        Path(url.database).name if url.get_backend_name() == "sqlite" and url.database else url.database
    )
    host = f"{url.host}/" if url.host else ""
    return f"SQL source {url.get_backend_name()}:{host}{database or ''}"


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        url = _sqlite_read_only(url)
    try:
        return sa.create_engine(url, hide_parameters=True, pool_pre_ping=True)
    except (exc.NoSuchModuleError, ImportError) as e:
        raise ConfigError(f"cannot open {url.drivername!r} databases here: {e}") from None


def _sqlite_read_only(url: sa.URL) -> sa.URL:
    database = url.database
    if not database or database == ":memory:" or "uri" in url.query:
        return url
    path = Path(database).resolve()
    if not path.is_file():
        # SQLite would otherwise create an empty database and every enquiry would find nobody.
        raise ConfigError(f"SQLite database file not found: {path}")
    # The adapter must never change the agency's records.
    return url.set(database=path.as_uri()).update_query_dict({"mode": "ro", "uri": "true"})


def _classify(e: exc.SQLAlchemyError, what: str) -> SourceError:
    if isinstance(e, exc.TimeoutError | exc.DisconnectionError):
        return SourceUnavailable(f"{what}: the database is unavailable: {type(e).__name__}")
    if not isinstance(e, exc.DBAPIError):
        return SourceMisconfigured(f"{what} failed: {type(e).__name__}: {str(e).splitlines()[0]}")
    detail = (str(e.orig).splitlines() or [type(e.orig).__name__])[0]
    outage = isinstance(e, exc.OperationalError | exc.InterfaceError) and not any(
        mistake in detail.lower() for mistake in _SQL_MISTAKES
    )
    # The driver's own text may quote a bound value (PostgreSQL: 'invalid input syntax ... "943 476 5919"'):
    # name the error class and SQLSTATE only, never that text.
    code = getattr(e.orig, "pgcode", None) or getattr(e.orig, "sqlstate", None)
    named = f"{type(e.orig).__name__}{f' (SQLSTATE {code})' if code else ''}"
    if outage or e.connection_invalidated:
        return SourceUnavailable(f"{what}: the database is unavailable: {named}")
    if isinstance(e.orig, sqlite3.Error):
        # SQLite's messages name tables and columns, not values.
        return SourceMisconfigured(f"{what} failed: {detail}")
    return SourceMisconfigured(f"{what} failed: {named}")
