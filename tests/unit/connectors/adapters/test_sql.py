from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.sdk.adapters import (
    SkippedRow,
    SourceMisconfigured,
    SourceUnavailable,
    SqlSourceConfig,
    build_adapter,
)
from connectors.sdk.adapters.sql import _describe
from jigsaw.errors import ConfigError, FatalError, TransientError
from jigsaw.lifecycle import ClosedError

SCHEMA = """
CREATE TABLE nominals (nominal_id INTEGER PRIMARY KEY, forename TEXT, surname TEXT, birth_date TEXT,
                       postcode TEXT, pnc TEXT);
CREATE TABLE incidents (incident_id INTEGER PRIMARY KEY, nominal_id INTEGER, occurred TEXT, summary TEXT);
INSERT INTO nominals VALUES
    (1, 'Jamie', 'Smith', '2014-03-01', 'LS1 4AB', '14/123456X'),
    (2, 'Jamie', 'Smyth', '2014-03-01', 'LS2 9ZZ', NULL),
    (3, 'Alex',  'Smith', '2011-07-20', 'LS1 4AB', NULL),
    (4, 'Sam',   'Jones', 'not known',  'BD1 1AA', NULL);
INSERT INTO incidents VALUES
    (10, 1, '2026-01-05', 'concern for welfare'),
    (11, 1, '2026-02-11', 'missing from home'),
    (12, 2, '2026-03-02', 'domestic incident attended'),
    (13, 3, '2026-04-09', 'anti-social behaviour');
"""

PERSONS = "SELECT * FROM nominals WHERE birth_date = :dob OR lower(surname) = lower(:family_name)"
INCIDENTS = (
    "SELECT nominal_id, occurred, summary FROM incidents WHERE nominal_id IN :source_ids ORDER BY occurred"
)
FIELDS = {"source_id": "nominal_id", "given_names": "forename", "family_name": "surname", "dob": "birth_date"}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "police records.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return path


def config(url: str, **overrides: Any) -> SqlSourceConfig:
    doc: dict[str, Any] = {
        "url": url,
        "persons_query": PERSONS,
        "category_queries": {"police_incidents": INCIDENTS},
        "fields": FIELDS,
    }
    return SqlSourceConfig.model_validate({**doc, **overrides})


async def test_candidates_come_from_the_configured_query_through_the_field_mapping(database: Path) -> None:
    async with build_adapter(config(f"sqlite:///{database}")) as adapter:
        by_dob = await adapter.candidates({"dob": date(2014, 3, 1)})
        by_name = await adapter.candidates({"family_name": "SMITH", "given_names": "Alex"})
        nobody = await adapter.candidates({"family_name": "Brown", "dob": date(2001, 1, 1)})

    assert sorted(p["source_id"] for p in by_dob) == ["1", "2"]
    assert sorted(p["source_id"] for p in by_name) == ["1", "3"]
    assert nobody == []
    jamie = next(p for p in by_dob if p["source_id"] == "1")
    assert jamie == {
        "source_id": "1",
        "given_names": "Jamie",
        "family_name": "Smith",
        "dob": date(2014, 3, 1),
        "postcode": "LS1 4AB",
        "nhs": None,
        "upn": None,
        "pnc": "14/123456X",
        "ni": None,
        "local_id": None,
    }


async def test_a_row_with_a_bad_date_is_skipped_and_reported_without_its_values(database: Path) -> None:
    async with build_adapter(config(f"sqlite:///{database}")) as adapter:
        people = await adapter.candidates({"family_name": "Jones"})

    assert people == []
    assert adapter.problem_count == 1
    assert adapter.problems == [
        SkippedRow("persons_query", 1, "birth_date", "not a date in the format ISO 8601")
    ]
    assert "not known" not in repr(adapter.problems)


async def test_records_are_only_those_peoples_rows(database: Path) -> None:
    async with build_adapter(config(f"sqlite:///{database}")) as adapter:
        rows = await adapter.records("police_incidents", ["1", "3"])
        none = await adapter.records("police_incidents", [])

    assert [(r["source_id"], r["summary"]) for r in rows] == [
        ("1", "concern for welfare"),
        ("1", "missing from home"),
        ("3", "anti-social behaviour"),
    ]
    assert none == []


async def test_a_too_broad_category_query_does_not_leak_other_people(database: Path) -> None:
    leaky = "SELECT nominal_id, summary FROM incidents WHERE nominal_id IN :source_ids OR 1 = 1"
    async with build_adapter(config(f"sqlite:///{database}", category_queries={"x": leaky})) as adapter:
        rows = await adapter.records("x", ["2"])
    assert [r["summary"] for r in rows] == ["domestic incident attended"]


async def test_an_unknown_category_is_a_config_error(database: Path) -> None:
    async with build_adapter(config(f"sqlite:///{database}")) as adapter:
        with pytest.raises(ConfigError, match="'social_care'"):
            await adapter.records("social_care", ["1"])


async def test_bad_sql_is_a_config_error(database: Path) -> None:
    queries = {"typo": "SELECT * FROM incidnets WHERE nominal_id IN :source_ids"}
    async with build_adapter(config(f"sqlite:///{database}", category_queries=queries)) as adapter:
        with pytest.raises(ConfigError, match="no such table: incidnets"):
            await adapter.records("typo", ["1"])


async def test_a_query_without_an_id_column_is_a_config_error(database: Path) -> None:
    queries = {"x": "SELECT summary FROM incidents WHERE nominal_id IN :source_ids"}
    async with build_adapter(config(f"sqlite:///{database}", category_queries=queries)) as adapter:
        with pytest.raises(ConfigError, match="source_id"):
            await adapter.records("x", ["1"])


async def test_a_missing_database_file_is_a_clear_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no-such.sqlite"
    adapter = build_adapter(config(f"sqlite:///{missing}"))
    with pytest.raises(ConfigError, match="SQLite database file not found"):
        await adapter.start()
    assert not missing.exists()
    assert not adapter.started


async def test_a_bad_url_is_a_config_error_that_does_not_show_the_password() -> None:
    for url in ("not a url", "nosuchdb://jigsaw:hunter2@host/db"):
        with pytest.raises(ConfigError) as caught:
            await build_adapter(config(url)).start()
        assert "hunter2" not in str(caught.value)


async def test_an_unreachable_database_is_transient(tmp_path: Path, database: Path) -> None:
    adapter = build_adapter(config(f"sqlite:///{database}"))
    async with adapter:
        await asyncio.to_thread(database.unlink)
        with pytest.raises(TransientError, match="unavailable"):
            await adapter.candidates({"family_name": "Smith"})


async def test_the_database_is_opened_read_only(database: Path) -> None:
    queries = {"x": "DELETE FROM incidents WHERE nominal_id IN :source_ids RETURNING nominal_id"}
    async with build_adapter(config(f"sqlite:///{database}", category_queries=queries)) as adapter:
        with pytest.raises(ConfigError, match="readonly database"):
            await adapter.records("x", ["1"])
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (4,)
    conn.close()


async def test_lifecycle_stop_is_idempotent_and_final(database: Path) -> None:
    adapter = build_adapter(config(f"sqlite:///{database}"))
    with pytest.raises(ClosedError):
        await adapter.candidates({"family_name": "Smith"})
    async with adapter:
        pass
    await adapter.stop()
    assert not adapter.started
    with pytest.raises(ClosedError):
        await adapter.records("police_incidents", ["1"])
    with pytest.raises(ClosedError):
        await adapter.start()


async def test_lookups_that_fail_say_whether_to_answer_retry_or_stop(database: Path) -> None:
    queries = {
        "police_incidents": INCIDENTS,
        "typo": "SELECT * FROM incidnets WHERE nominal_id IN :source_ids",
    }
    async with build_adapter(config(f"sqlite:///{database}", category_queries=queries)) as adapter:
        assert await adapter.records("police_incidents", ["99"]) == [], "an empty result: nothing held"
        with pytest.raises(SourceMisconfigured) as fatal:
            await adapter.records("typo", ["1"])
    assert isinstance(fatal.value, FatalError)
    assert str(fatal.value).startswith("SQL source sqlite:police records.sqlite: the 'typo' query failed")

    async with build_adapter(config(f"sqlite:///{database}")) as adapter:
        await asyncio.to_thread(database.unlink)
        with pytest.raises(SourceUnavailable) as later:
            await adapter.candidates({"family_name": "Smith", "dob": date(2014, 3, 1)})
    assert later.value.retriable
    assert not isinstance(later.value, FatalError)
    assert "Smith" not in str(later.value)
    assert "2014" not in str(later.value)


def test_a_server_database_is_named_without_its_user_or_password() -> None:
    url = sa.make_url("postgresql://jigsaw:hunter2@db.example:5432/police")
    assert _describe(url) == "SQL source postgresql:db.example/police"
