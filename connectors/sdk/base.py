"""What an agency writes: a ``Connector`` with its source-record models, and, if it needs one, a lookup.

A source record is validated with pydantic (errors name the record and the field, never the value) and
becomes one item of its category's payload, with its provenance: fact, allegation or opinion, source, date.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from connectors.sdk.adapters import NothingHeld, SourceAdapter

# The records key of an agency's confidential-address markers (a refuge, a fled victim). Not a category:
# markers travel in the return's clear body, not in a section, and are read for every enquiry.
MARKERS = "confidential_addresses"


class SourceRecord(BaseModel):
    """One row of an agency's system, validated. Subclasses add fields and say how it maps."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # The payload list this record becomes an item of, e.g. "incidents" for police_incidents.
    list_field: ClassVar[str]
    source_system: ClassVar[str] = "source system"

    source_id: str
    kind: Literal["FACT", "ALLEGATION", "OPINION"] = "FACT"
    recorded_on: date

    def item(self) -> dict[str, Any]:
        """The payload item: the record's own fields plus its provenance."""
        fields = self.model_dump(exclude={"source_id", "kind", "recorded_on"})
        return {
            "kind": self.kind,
            "source": self.source_system,
            "recorded_on": self.recorded_on,
            "source_ref": None,
            **fields,
        }


@dataclass(frozen=True)
class MatchedSubject:
    """An enquiry's subject, and the person in the agency's system it was matched to."""

    subject_ref: str
    source_id: str
    method: str
    confidence: float


def category_of(source: str) -> str:
    """The category a records key feeds: ``health_summary.emergency_attendances`` feeds health_summary."""
    return source.partition(".")[0]


@dataclass(frozen=True)
class Finding:
    source: str  # the ``records`` key (and adapter query) the row came from
    source_id: str
    row: dict[str, Any]

    @property
    def category(self) -> str:
        return category_of(self.source)


class Connector(ABC):  # noqa: B024 - an agency subclasses it and may override nothing but `records`
    """An agency's connector. Declare ``records`` (records key -> record model); override ``lookup`` only
    when the adapter's queries are not enough.

    A key is a category (``police_incidents``) or, where a category's payload has several lists, the
    category and a name (``health_summary.emergency_attendances``): each key has its own adapter query,
    file or path, and its own model, and all of a category's keys are asked when that category is.
    """

    records: ClassVar[dict[str, type[SourceRecord]]] = {}

    def __init__(self, adapter: SourceAdapter) -> None:
        self.adapter = adapter

    async def lookup(self, subjects: Sequence[MatchedSubject], categories: Sequence[str]) -> list[Finding]:
        """What this agency holds on ``subjects`` in ``categories``. The default asks the adapter.

        An override raises the adapter's ``SourceError``s as they come: ``NothingHeld`` for the whole
        lookup means nothing held in any category, ``SourceUnavailable`` that the enquiry is tried again.
        """
        wanted = set(categories)
        return await self._rows(
            [k for k in self.records if k != MARKERS and category_of(k) in wanted], subjects
        )

    async def markers(self, subjects: Sequence[MatchedSubject]) -> list[Finding]:
        """The confidential-address markers this agency holds on ``subjects``: asked for every enquiry,
        whatever its categories, when ``records`` has a :data:`MARKERS` key. The default asks the adapter."""
        return await self._rows([MARKERS] if MARKERS in self.records else [], subjects)

    async def _rows(self, sources: Sequence[str], subjects: Sequence[MatchedSubject]) -> list[Finding]:
        ids = sorted({s.source_id for s in subjects})
        findings = []
        for source in sources:
            if ids:
                try:
                    rows = await self.adapter.records(source, ids)
                except NothingHeld:
                    continue  # this key holds nothing; the others may
                findings += [Finding(source, str(r["source_id"]), r) for r in rows]
        return findings
