"""The health system's HTTP API, simulated over a generated health.sqlite (read-only).

``GET /patients?family_name=&dob=&nhs=`` answers the connector's candidate search: everyone whose surname,
date of birth or NHS number matches any one given (loose on purpose: the connector's matcher decides).
``GET /patients/{patient_id}/<list>`` returns one records key's rows as JSON, and ``GET /batch/<list>?ids=..``
the rows of several patients at once, each with its ``patient_id``; ``GET /health`` says it is up.
``/patients/{patient_id}/markers`` is the patient record's confidential address marker, if it has one.
Nothing is logged: the query strings hold names and dates of birth.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from town.schema import HEALTH, item_columns

# Records key -> path under /patients/{patient_id}; deploy/connectors/health.yaml names the same paths.
ENDPOINTS = {
    "identity.names": "names",
    "identity.details": "details",
    "identifier_nhs": "identifiers",
    "address": "addresses",
    "confidential_addresses": "markers",
    "contact": "contact",
    "health_summary.gp_registrations": "gp-registrations",
    "health_summary.community_contacts": "community-contacts",
    "health_summary.emergency_attendances": "emergency-attendances",
    "health_summary.maternity": "maternity",
    "health_summary.camhs": "camhs",
    "mental_health.episodes": "mental-health/episodes",
    "mental_health.crisis_episodes": "mental-health/crisis-episodes",
}
_SEARCH = ("family_name", "dob", "nhs")
_MAX_BATCH = 1000


def create_app(data: Path, token: str | None = None) -> Starlette:
    """The API over ``data``/health.sqlite. With ``token``, every request needs ``Bearer <token>``."""
    database = (data / HEALTH.path).resolve()
    if not database.is_file():
        raise FileNotFoundError(f"no {HEALTH.path} in {data}: run `jigsaw synth generate` first")
    uri = f"{database.as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True)
        conn.row_factory = sqlite3.Row
        return conn

    def guarded(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def check(request: Request) -> Response:
            if token is not None:
                given = request.headers.get("authorization", "")
                if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    return JSONResponse({"error": "unauthorised"}, status_code=401)
            return endpoint(request)

        return check

    def patients(request: Request) -> Response:
        query = {k: v.strip() for k, v in request.query_params.items() if k in _SEARCH and v.strip()}
        if "dob" in query:
            try:
                date.fromisoformat(query["dob"])
            except ValueError:
                return JSONResponse({"error": "dob must be YYYY-MM-DD"}, status_code=400)
        with closing(connect()) as conn:
            return JSONResponse(_search(conn, query))

    def records(source: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            with closing(connect()) as conn:
                return JSONResponse(_records(conn, source, request.path_params["patient_id"]))

        return endpoint

    def batch(source: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            ids = request.query_params.getlist("ids")[:_MAX_BATCH]
            with closing(connect()) as conn:
                rows = [{"patient_id": pid, **row} for pid in ids for row in _records(conn, source, pid)]
            return JSONResponse(rows)

        return endpoint

    def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})  # for a process supervisor: no data, no token needed

    routes = [Route("/health", health), Route("/patients", guarded(patients))]
    for source, path in ENDPOINTS.items():
        routes.append(Route(f"/patients/{{patient_id}}/{path}", guarded(records(source))))
        routes.append(Route(f"/batch/{path}", guarded(batch(source))))
    return Starlette(routes=routes)


def _search(conn: sqlite3.Connection, query: dict[str, str]) -> list[dict[str, Any]]:
    """Anyone matching any one of surname, date of birth or NHS number; nobody for an empty query."""
    terms = {
        "family_name": "surname = ? COLLATE NOCASE",
        "dob": "dob = ?",
        "nhs": "replace(nhs_number, ' ', '') = ?",
    }
    wanted = [k for k in _SEARCH if k in query]
    if not wanted:
        return []  # an empty search must not list every patient
    where = " OR ".join(terms[k] for k in wanted)
    params = [query[k].replace(" ", "") if k == "nhs" else query[k] for k in wanted]
    rows = conn.execute(
        "SELECT patient_id, nhs_number, forename, surname, dob, postcode FROM patients WHERE " + where,  # noqa: S608
        params,
    )
    return [dict(row) for row in rows]


# Records keys answered from the patient's own row rather than a table of items.
_FROM_PATIENT = ("identity.names", "identity.details", "identifier_nhs", "address", "confidential_addresses")


def _records(conn: sqlite3.Connection, source: str, patient_id: str) -> list[dict[str, Any]]:
    if source in _FROM_PATIENT:
        row = conn.execute("SELECT * FROM patients WHERE patient_id = ?", (patient_id,)).fetchone()
        if row is None:
            return []
        if (source == "identifier_nhs" and not row["nhs_number"]) or (
            source == "confidential_addresses" and not row["confidential_address"]
        ):
            return []
        return [_identity(source, dict(row))]
    table = HEALTH.table(source)
    assert table is not None  # noqa: S101 - ENDPOINTS names only configured keys
    types = dict(item_columns(source))
    rows = conn.execute(f'SELECT * FROM "{table.name}" WHERE patient_id = ?', (patient_id,))  # noqa: S608
    return [_json_row(dict(row), types) for row in rows]


def _json_row(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A stored row as the API sends it: real lists and booleans, no internal id."""
    row.pop("patient_id", None)
    for name, kind in types.items():
        value = row.get(name)
        if value is None:
            continue
        if kind == "json":
            row[name] = json.loads(value)
        elif kind == "bool":
            row[name] = bool(value)
    return row


def _identity(source: str, p: dict[str, Any]) -> dict[str, Any]:
    base = {"kind": "FACT", "recorded_on": p["created_on"]}
    if source == "identity.names":
        return {**base, "name_type": "LEGAL", "given_names": p["forename"], "family_name": p["surname"]}
    if source == "identity.details":
        gender = {"M": "MALE", "F": "FEMALE"}.get(p["sex"], "NOT_KNOWN")
        return {**base, "date_of_birth": p["dob"], "dob_estimated": False, "unborn": False, "gender": gender}
    if source == "confidential_addresses":
        return {**base, "scope": "PERSON"}
    if source == "identifier_nhs":
        return {
            **base,
            "scheme": "NHS",
            "value": p["nhs_number"],
            "issuer": "NHS England Personal Demographics Service",
            "verified": True,
            "valid_from": p["dob"],
        }
    return {
        **base,
        "address_type": "HOME",
        "lines": json.loads(p["address_lines"] or "[]"),
        "town": p["town"],
        "postcode": p["postcode"],
        "uprn": p["uprn"],
        "no_fixed_abode": False,
    }
