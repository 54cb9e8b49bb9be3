"""What every source adapter offers a connector, and the row handling the three share.

A connector asks two things of its agency's system: which people *might* be this subject
(:meth:`SourceAdapter.candidates`), and what is held on the ones it decided match
(:meth:`SourceAdapter.records`). Deciding the match is the connector's job, not the adapter's.

When the system does not answer, each adapter says which of three things happened, so that no enquiry is
lost to a dead letter::

    SourceError
    ├── NothingHeld            the system holds nothing (a 404 for a person): answered as nothing held
    ├── SourceUnavailable      retry later (an outage, a timeout, 429, 5xx, an expired token): the consume
    │                          loop retries the enquiry's partition with backoff   (a TransientError)
    └── SourceMisconfigured    no retry can help (bad SQL, a 400 for a wrong query shape): the connector
                               stops and its health check fails                   (a FatalError)
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from jigsaw.errors import ConfigError, FatalError, JigsawError, SourceRecordInvalid, TransientError
from jigsaw.lifecycle import Component

log = logging.getLogger(__name__)

PERSON_FIELDS = (
    "source_id",
    "given_names",
    "family_name",
    "dob",
    "postcode",
    "nhs",
    "upn",
    "pnc",
    "ni",
    "local_id",
)
HINT_KEYS = ("family_name", "given_names", "dob", "postcode", "nhs", "upn", "pnc")
# Enough to diagnose a bad export or query; bounded because SQL and HTTP meet the same bad row on every call.
MAX_PROBLEMS = 1000


class SourceError(JigsawError):
    """The agency's system did not answer a lookup. Messages name the source and what it said (a status,
    an error class), never a query's parameters or a row: those are personal data."""


class NothingHeld(SourceError):
    """The system says it holds nothing for this request. Not a failure: the lookup found nothing."""


class SourceUnavailable(SourceError, TransientError):
    """The system cannot answer now, but may later; the enquiry waits for it rather than be dropped."""


class SourceMisconfigured(SourceError, ConfigError, FatalError):
    """The system refuses what the configuration asks of it, and will refuse it every time: answering
    "nothing held" would hide it, and retrying would only delay every later enquiry behind it."""


class SkippedRow(NamedTuple):
    """Where a source row was skipped and why. Never the row's values: they are personal data."""

    file: str  # a file name, or the query / endpoint the row came from
    line: int  # line in the file (the header is line 1), or row number in the result
    column: str
    reason: str


class RowInvalid(SourceRecordInvalid):
    """One source row cannot be used. The message names the column, never the value."""

    def __init__(self, column: str, detail: str) -> None:
        super().__init__(f"{column}: {detail}")
        self.column = column
        # Not ``reason``: that is the dead-letter code every JigsawError carries.
        self.detail = detail


class SourceAdapter(Component, ABC):
    """An agency's data source, configured by a validated config file rather than code.

    A lookup that fails raises a :class:`SourceError`: :class:`NothingHeld`, :class:`SourceUnavailable` or
    :class:`SourceMisconfigured`. Rows that cannot be parsed are skipped and reported in :attr:`problems`.
    """

    #: How messages name this source: its kind and where it is, never credentials.
    name: str = "the source"

    def __init__(self) -> None:
        # A dict keeps insertion order and drops repeats of the same problem.
        self._problem_log: dict[SkippedRow, None] = {}
        self._skipped = 0

    @abstractmethod
    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Person rows (:data:`PERSON_FIELDS`) that might match the subject described by ``hint``."""

    @abstractmethod
    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The raw source rows of ``category`` for these people; each includes ``source_id``."""

    @property
    def problems(self) -> list[SkippedRow]:
        """Recent distinct reasons rows were skipped, oldest first."""
        return list(self._problem_log)

    @property
    def problem_count(self) -> int:
        """How many rows have been skipped."""
        return self._skipped

    def _note(self, problem: SkippedRow) -> None:
        self._skipped += 1
        self._problem_log.pop(problem, None)
        self._problem_log[problem] = None
        if len(self._problem_log) > MAX_PROBLEMS:
            del self._problem_log[next(iter(self._problem_log))]

    def _people(
        self, rows: Iterable[Mapping[str, Any]], fields: Mapping[str, str], where: str
    ) -> list[dict[str, Any]]:
        """``rows`` mapped to persons; invalid ones are noted and skipped."""
        people = []
        for number, row in enumerate(rows, start=1):
            try:
                people.append(to_person(row, fields))
            except RowInvalid as e:
                self._note(SkippedRow(where, number, e.column, e.detail))
        return people


def to_person(
    row: Mapping[str, Any], fields: Mapping[str, str], date_format: str | None = None
) -> dict[str, Any]:
    """The standard person fields of a source row, read through ``fields`` (standard field -> column)."""
    person: dict[str, Any] = {name: text(row.get(fields.get(name, name))) for name in PERSON_FIELDS}
    dob_column = fields.get("dob", "dob")
    person["dob"] = to_date(row.get(dob_column), dob_column, date_format)
    if person["source_id"] is None:
        raise RowInvalid(fields.get("source_id", "source_id"), "no id")
    return person


def text(value: Any) -> str | None:
    """Blank cells are missing values, and ids from integer columns are compared as strings."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def to_date(value: Any, column: str, date_format: str | None = None) -> date | None:
    """``value`` as a date. Strings are read with ``date_format``, or as ISO 8601 when it is None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RowInvalid(column, f"a {type(value).__name__}, not a date")
    try:
        if date_format is None:
            return datetime.fromisoformat(value.strip()).date()
        return datetime.strptime(value.strip(), date_format).date()
    except ValueError:
        raise RowInvalid(column, f"not a date in the format {date_format or 'ISO 8601'}") from None


def only_requested(rows: list[dict[str, Any]], source_ids: Sequence[str], where: str) -> list[dict[str, Any]]:
    """Drop rows about people nobody asked for: a too-broad query must not leak other people's data."""
    wanted = set(source_ids)
    kept = [row for row in rows if row.get("source_id") in wanted]
    if len(kept) < len(rows):
        log.warning("%s returned %d rows for people not asked about; dropped", where, len(rows) - len(kept))
    return kept


def with_source_id(row: Mapping[str, Any], id_column: str, where: str) -> dict[str, Any]:
    """``row`` with its id as ``source_id``, read from ``id_column`` when the source names it so."""
    column = id_column if id_column in row else "source_id"
    if column not in row:
        raise SourceMisconfigured(f"{where} must return a source_id (or {id_column!r}) column")
    return {**row, "source_id": text(row[column])}
