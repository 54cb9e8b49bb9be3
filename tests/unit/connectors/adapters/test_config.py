from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connectors.sdk.adapters import (
    CsvFolderAdapter,
    CsvFolderConfig,
    HttpAdapter,
    HttpSourceConfig,
    SourceConfig,
    SqlAdapter,
    SqlSourceConfig,
    build_adapter,
)


class Settings(BaseModel):
    """How a connector's settings file holds its source: one key, any kind."""

    source: SourceConfig


SQL: dict[str, Any] = {
    "kind": "sql",
    "url": "postgresql://jigsaw:hunter2@db.police.local/records",
    "persons_query": "SELECT * FROM nominals WHERE dob = :dob OR surname = :family_name",
    "category_queries": {"police_incidents": "SELECT * FROM incidents WHERE nominal_id IN :source_ids"},
    "fields": {"source_id": "nominal_id", "family_name": "surname"},
}
CSV: dict[str, Any] = {
    "kind": "csv",
    "folder": "/srv/mis-exports",
    "persons_file": "pupils*.csv",
    "category_files": {"attendance": "attendance*.csv"},
    "date_format": "%d/%m/%Y",
}
HTTP: dict[str, Any] = {
    "kind": "http",
    "base_url": "https://gp.example.nhs.uk/api",
    "category_paths": {"gp_summary": "/gp/{source_id}/summary"},
    "token": "t0ken",
}


def errors(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"source": doc})
    return [tuple(str(part) for part in e["loc"]) for e in caught.value.errors()]


def test_each_kind_validates_to_its_own_model() -> None:
    sql = Settings.model_validate({"source": SQL}).source
    csv = Settings.model_validate({"source": CSV}).source
    http = Settings.model_validate({"source": HTTP}).source

    assert isinstance(sql, SqlSourceConfig)
    assert sql.fields["family_name"] == "surname"
    assert isinstance(csv, CsvFolderConfig)
    assert csv.folder == Path("/srv/mis-exports")
    assert (csv.poll_interval_s, csv.encoding, csv.id_column) == (2.0, "utf-8-sig", "source_id")
    assert isinstance(http, HttpSourceConfig)
    assert (http.persons_path, http.retries, http.verify_tls) == ("/persons", 2, True)


def test_secrets_stay_out_of_reprs() -> None:
    sql = Settings.model_validate({"source": SQL}).source
    http = Settings.model_validate({"source": HTTP}).source
    assert "hunter2" not in repr(sql)
    assert "hunter2" not in str(sql.model_dump())
    assert "t0ken" not in repr(http)


def test_the_sql_url_defaults_to_a_sqlite_file() -> None:
    config = SqlSourceConfig(persons_query="SELECT * FROM p", category_queries={})
    assert config.url.get_secret_value() == "sqlite:///source.sqlite"


def test_build_adapter_picks_the_implementation() -> None:
    assert isinstance(build_adapter(Settings.model_validate({"source": SQL}).source), SqlAdapter)
    assert isinstance(build_adapter(Settings.model_validate({"source": CSV}).source), CsvFolderAdapter)
    assert isinstance(build_adapter(Settings.model_validate({"source": HTTP}).source), HttpAdapter)


def test_an_unknown_kind_names_the_discriminator() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"source": {**SQL, "kind": "ldap"}})
    assert "kind" in str(caught.value)
    assert "'sql', 'csv', 'http'" in str(caught.value)


def test_an_extra_field_is_named() -> None:
    assert errors({**CSV, "pol_interval_s": 1}) == [("source", "csv", "pol_interval_s")]


def test_configs_are_frozen() -> None:
    config = HttpSourceConfig.model_validate(HTTP)
    with pytest.raises(ValidationError):
        config.retries = 5


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({**SQL, "fields": {"surname": "family_name"}}, "fields"),
        ({**SQL, "persons_query": "SELECT * FROM p WHERE x = :postcode OR y = :address"}, "persons_query"),
        ({**SQL, "category_queries": {"x": "SELECT * FROM incidents WHERE id = :id"}}, "category_queries"),
        ({**CSV, "persons_file": "../../etc/*.csv"}, "persons_file"),
        ({**CSV, "poll_interval_s": 0}, "poll_interval_s"),
        ({**CSV, "encoding": "utf-99"}, "encoding"),
        ({**HTTP, "base_url": "ftp://gp.example"}, "base_url"),
        ({**HTTP, "category_paths": {"x": "/gp/{nhs}/summary"}}, "category_paths"),
        ({**HTTP, "persons_path": "persons"}, "persons_path"),
        ({**HTTP, "retries": -1}, "retries"),
    ],
)
def test_mistakes_are_caught_when_the_file_loads(doc: dict[str, Any], field: str) -> None:
    assert errors(doc) == [("source", doc["kind"], field)]
