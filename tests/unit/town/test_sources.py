"""Every row of every generated agency system, read through that agency's deploy config and adapter,
validates against the reference connector's record model: what the demo's connectors will meet."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from connectors.sdk.adapters import HttpSourceConfig, build_adapter
from connectors.sdk.config import ConnectorConfig
from devkit.testkit.town import AGENCIES, deploy_config, health_api, source_ids
from town import Summary
from town.health_api import create_app

BATCH = 500


def _batch_paths(config: ConnectorConfig) -> ConnectorConfig:
    """The health config reading the simulator's batch endpoints: one request per key for many people."""
    source = config.source
    assert isinstance(source, HttpSourceConfig)
    paths = {
        key: path.replace("/patients/{source_id}/", "/batch/") for key, path in source.category_paths.items()
    }
    return config.model_copy(update={"source": source.model_copy(update={"category_paths": paths})})


@pytest.mark.parametrize("agency", AGENCIES)
async def test_every_row_of_every_records_key_validates(agency: str, town: Summary) -> None:
    with health_api(town.out) as url:
        config = deploy_config(agency, town.out, url)
        if agency == "health":
            config = _batch_paths(config)
        connector = config.connector_class()
        ids = source_ids(town.out, agency)
        valid: Counter[str] = Counter()
        failures: list[str] = []
        async with build_adapter(config.source) as adapter:
            for key, model in connector.records.items():
                for start in range(0, len(ids), BATCH):
                    for row in await adapter.records(key, ids[start : start + BATCH]):
                        try:
                            model.model_validate(row)
                        except ValidationError as exc:
                            failures.append(f"{key}: {[(e['loc'], e['msg']) for e in exc.errors()]}")
                        else:
                            valid[key] += 1
            assert adapter.problem_count == 0, adapter.problems[:5]
    assert not failures, failures[:5]
    assert set(valid) == set(connector.records), "every records key had rows to validate"
    assert valid["identity.names"] == len(ids), "one name per person"
    # Every person the agency knows has a contact; a specialist service adds its own (a MOSOVO team, CAMHS).
    assert valid["contact"] >= len(ids)


@pytest.mark.parametrize("agency", AGENCIES)
async def test_the_persons_query_finds_a_person_by_date_of_birth_whatever_the_name(
    agency: str, town: Summary
) -> None:
    with sqlite3.connect(town.out / "town.sqlite") as conn:
        sid, dob = conn.execute(
            "SELECT r.source_id, p.dob FROM agency_records r JOIN people p ON p.key = r.person"
            " WHERE r.agency = ? ORDER BY r.source_id LIMIT 1",
            (agency,),
        ).fetchone()
    with health_api(town.out) as url:
        async with build_adapter(deploy_config(agency, town.out, url).source) as adapter:
            hint = {"family_name": "Nobody-By-That-Name", "given_names": "X", "dob": date.fromisoformat(dob)}
            found = await adapter.candidates(hint)
            assert sid in {p["source_id"] for p in found}
            assert all(p["dob"] == date.fromisoformat(dob) for p in found if p["source_id"] == sid)


def test_the_health_api_searches_by_any_one_of_surname_dob_or_nhs_number(
    town: Summary, tmp_path: Path
) -> None:
    with sqlite3.connect(town.out / "health.sqlite") as conn:
        pid, nhs, surname, dob = conn.execute(
            "SELECT patient_id, nhs_number, surname, dob FROM patients ORDER BY patient_id LIMIT 1"
        ).fetchone()
    with health_api(town.out, token="t0ken") as url, httpx.Client(base_url=url) as api:
        auth = {"Authorization": "Bearer t0ken"}
        assert api.get("/health").json() == {"status": "ok"}
        assert api.get("/patients", params={"family_name": surname}).status_code == 401
        by_nhs = api.get("/patients", params={"nhs": nhs.replace(" ", "")}, headers=auth).json()
        assert [p["patient_id"] for p in by_nhs] == [pid]
        either = api.get("/patients", params={"family_name": "Zz-None", "dob": dob}, headers=auth).json()
        assert pid in {p["patient_id"] for p in either}
        assert api.get("/patients", headers=auth).json() == [], "no filter, nobody"
        assert api.get("/patients", params={"dob": "31/12/2000"}, headers=auth).status_code == 400
        (one,) = api.get(f"/patients/{pid}/identifiers", headers=auth).json()
        assert (one["scheme"], one["value"]) == ("NHS", nhs)
        batch = api.get("/batch/names", params=[("ids", pid), ("ids", "no-such")], headers=auth).json()
        assert [row["patient_id"] for row in batch] == [pid]
        assert api.get("/patients/no-such/gp-registrations", headers=auth).json() == []
    with pytest.raises(FileNotFoundError):
        create_app(tmp_path)
