"""The seven reference connectors: their deploy configs load and cover every records key, their record
models carry exactly the payload's field names, and the default lookup asks every key of a category."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pydantic import Field, ValidationError

from connectors.sdk.adapters import HttpSourceConfig, SourceAdapter
from connectors.sdk.base import Connector, MatchedSubject, SourceRecord
from connectors.sdk.config import ConnectorConfig, load_config
from connectors.sdk.fields import Date, JsonList, OptDate, OptStr
from connectors.sdk.records import MARKERS, ConfidentialAddress
from jigsaw.errors import ConfigError
from jigsaw.wire.categories import CATEGORIES
from town.health_api import ENDPOINTS
from town.schema import NOT_STORED, item_columns, list_field

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "connectors"
AGENCIES = ("police", "health", "education", "socialcare", "probation", "youthjustice", "housing")
PROVENANCE = {"source_id", "kind", "recorded_on"}


def _config(agency: str) -> ConnectorConfig:
    return load_config(DEPLOY / f"{agency}.yaml")


def test_there_is_a_deploy_config_for_each_agency_and_nothing_else() -> None:
    assert sorted(p.stem for p in DEPLOY.glob("*.yaml")) == sorted(AGENCIES)


@pytest.mark.parametrize("agency", AGENCIES)
def test_each_deploy_config_loads_and_its_connector_covers_its_source(agency: str) -> None:
    config = _config(agency)
    connector = config.connector_class()
    assert (config.participant_id, config.agency) == (f"{agency}.devon", agency)
    assert (str(config.keys.dir), str(config.state_dir)) == (".jigsaw/demo/keys", ".jigsaw/demo/state")
    assert config.metrics.port == 9311 + AGENCIES.index(agency)
    keys = set(connector.records)
    # Identity v2: names and details; each identifier scheme and the addresses are categories of their own.
    assert {"identity.names", "identity.details", "address", "contact"} <= keys
    assert keys & {"identifier_nhs", "identifier_upn", "identifier_pnc", "identifier_local"}
    assert not keys & {"identity.identifiers", "identity.addresses"}, "no list Identity v2 lacks"
    source = config.source
    if isinstance(source, HttpSourceConfig):
        assert source.base_url == "http://127.0.0.1:8790"
        assert {
            k: p.removeprefix("/patients/{source_id}/") for k, p in source.category_paths.items()
        } == ENDPOINTS
    else:
        text = (DEPLOY / f"{agency}.yaml").read_text()
        assert ".jigsaw/demo/sources/" in text


def test_a_records_key_without_a_query_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    doc = yaml.safe_load((DEPLOY / "police.yaml").read_text())
    del doc["source"]["category_queries"]["police_convictions.markers"]
    path = tmp_path / "police.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"police_convictions\.markers"):
        load_config(path).connector_class()


def _pairs() -> list[tuple[str, str, type[SourceRecord]]]:
    return [(a, key, model) for a in AGENCIES for key, model in _config(a).connector_class().records.items()]


@pytest.mark.parametrize(("agency", "key", "model"), _pairs(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_record_model_has_exactly_the_payload_item_s_fields(
    agency: str, key: str, model: type[SourceRecord]
) -> None:
    if key == MARKERS:
        # A marker is no payload item: it goes in the return's body (IntelReturn.v3 confidential_addresses).
        assert issubclass(model, ConfidentialAddress)
        assert set(model.model_fields) - PROVENANCE == {"scope"}
        return
    assert key.partition(".")[0] in CATEGORIES
    assert model.list_field == list_field(key)
    expected = {name for name, _ in item_columns(key)}
    assert set(model.model_fields) - PROVENANCE == expected, "the payload's field names, no more, no fewer"
    assert not set(model.model_fields) & NOT_STORED
    assert model.source_system != SourceRecord.source_system, "names the agency's system"


# --- the default lookup -----------------------------------------------------------------------------------


class _Item(SourceRecord):
    list_field: ClassVar[str] = "items"


class _Fake(SourceAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def _start(self) -> None: ...

    async def _stop(self) -> None: ...

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        return []

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        self.asked.append((category, tuple(source_ids)))
        return [{"source_id": sid, "key": category} for sid in source_ids]


class _Multi(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        "health_summary.gp_registrations": _Item,
        "health_summary.camhs": _Item,
        "mental_health.episodes": _Item,
        "contact": _Item,
    }


async def test_the_default_lookup_asks_every_key_of_a_requested_category() -> None:
    adapter = _Fake()
    subjects = [
        MatchedSubject("S2", "P-2", "EXACT_NHS", 1.0),
        MatchedSubject("S1", "P-1", "PROBABILISTIC", 0.95),
    ]
    findings = await _Multi(adapter).lookup(subjects, ["health_summary", "police_incidents"])
    assert adapter.asked == [
        ("health_summary.gp_registrations", ("P-1", "P-2")),
        ("health_summary.camhs", ("P-1", "P-2")),
    ]
    assert {(f.source, f.category, f.source_id) for f in findings} == {
        ("health_summary.gp_registrations", "health_summary", "P-1"),
        ("health_summary.gp_registrations", "health_summary", "P-2"),
        ("health_summary.camhs", "health_summary", "P-1"),
        ("health_summary.camhs", "health_summary", "P-2"),
    }
    adapter.asked.clear()
    assert await _Multi(adapter).lookup([], ["health_summary"]) == []
    assert adapter.asked == [], "nobody matched: nothing asked"


# --- field types for what sources store -------------------------------------------------------------------


class _Shapes(SourceRecord):
    list_field: ClassVar[str] = "x"

    when: Date
    maybe: OptDate = None
    note: OptStr = None
    items: JsonList = Field(default_factory=list)


def test_source_shapes_become_payload_types() -> None:
    rec = _Shapes.model_validate(
        {
            "source_id": "1",
            "recorded_on": "2026-01-02",
            "when": "03/04/2025",
            "maybe": "",
            "note": " ",
            "items": '["curfew", "no contact"]',
        }
    )
    assert (rec.when, rec.maybe, rec.note, rec.items) == (
        date(2025, 4, 3),
        None,
        None,
        ["curfew", "no contact"],
    )
    assert (
        _Shapes.model_validate(
            {"source_id": "1", "recorded_on": date(2026, 1, 2), "when": "2025-04-03"}
        ).items
        == []
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("when", "31/02/2025"), ("when", "Tuesday"), ("items", "not json"), ("items", '{"a": 1}')],
)
def test_a_bad_source_value_fails_without_quoting_it(field: str, value: str) -> None:
    row = {"source_id": "1", "recorded_on": "2026-01-02", "when": "2025-01-01", field: value}
    with pytest.raises(ValidationError) as caught:
        _Shapes.model_validate(row)
    messages = " ".join(e["msg"] for e in caught.value.errors())
    assert value not in messages
