"""Against a real HTTP server on 127.0.0.1, run by uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.sdk.adapters import PERSON_FIELDS, HttpSourceConfig, SourceAdapter, build_adapter
from jigsaw.errors import ConfigError, TransientError

TOKEN = "s3cret-token"
PATIENTS: list[dict[str, Any]] = [
    {"patient_ref": "G1", "forename": "Jamie", "surname": "Smith", "dob": "2014-03-01", "nhs": "9434765919"},
    {"patient_ref": "G2", "forename": "Alex", "surname": "Smith", "dob": "2011-07-20", "nhs": "9434765870"},
    {"patient_ref": "G3", "forename": "Sam", "surname": "Smith", "dob": "01/01/2010", "nhs": None},
]
CONSULTATIONS = [
    {"patient_ref": "G1", "seen": "2026-01-05", "note": "bruising, safeguarding lead informed"},
    {"patient_ref": "G2", "seen": "2026-02-11", "note": "asthma review"},
]


@dataclass
class Seen:
    authorization: list[str | None] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    flaky_calls: int = 0

    def reset(self) -> None:
        self.authorization.clear()
        self.queries.clear()
        self.flaky_calls = 0


def make_app(seen: Seen) -> Starlette:
    async def patients(request: Request) -> Response:
        seen.authorization.append(request.headers.get("authorization"))
        seen.queries.append(dict(request.query_params))
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        surname = request.query_params.get("family_name", "").lower()
        return JSONResponse([p for p in PATIENTS if p["surname"].lower() == surname])

    async def consultations(request: Request) -> Response:
        ids = request.query_params.getlist("ids")
        # A careless API that also returns someone nobody asked about.
        return JSONResponse([c for c in CONSULTATIONS if c["patient_ref"] in ids] + [CONSULTATIONS[1]])

    async def summary(request: Request) -> Response:
        ref = request.path_params["ref"]
        return JSONResponse({"ref": ref, "alerts": ["child protection plan"] if ref == "G1" else []})

    async def flaky(request: Request) -> Response:
        seen.flaky_calls += 1
        if seen.flaky_calls <= 2:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse([PATIENTS[0]])

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return JSONResponse([])

    return Starlette(
        routes=[
            Route("/api/patients", patients),
            Route("/api/consultations", consultations),
            Route("/api/gp/{ref}/summary", summary),
            Route("/api/flaky", flaky),
            Route("/api/slow", slow),
        ]
    )


@dataclass
class Server:
    base_url: str
    seen: Seen


@pytest.fixture(scope="module")
def running() -> Iterator[Server]:
    seen = Seen()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(seen), log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the test server failed to start"
        assert time.monotonic() < deadline, "the test server did not start in time"
        time.sleep(0.01)
    yield Server(f"http://127.0.0.1:{port}/api", seen)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    assert not thread.is_alive()


@pytest.fixture
def server(running: Server) -> Server:
    running.seen.reset()
    return running


def adapter_for(base_url: str, **overrides: Any) -> SourceAdapter:
    doc: dict[str, Any] = {
        "kind": "http",
        "base_url": base_url,
        "persons_path": "/patients",
        "category_paths": {
            "gp_consultations": "/consultations",
            "gp_summary": "/gp/{source_id}/summary",
            "missing": "/no/such/{source_id}",
        },
        "token": TOKEN,
        "fields": {"source_id": "patient_ref", "given_names": "forename", "family_name": "surname"},
        "timeout_s": 2,
    }
    return build_adapter(HttpSourceConfig.model_validate({**doc, **overrides}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_candidates_send_the_hint_and_the_bearer_token(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        people = await adapter.candidates({"family_name": "Smith", "dob": date(2014, 3, 1), "nhs": None})

    assert server.seen.authorization == [f"Bearer {TOKEN}"]
    assert server.seen.queries == [{"family_name": "Smith", "dob": "2014-03-01"}]
    assert [(p["source_id"], p["given_names"], p["dob"]) for p in people] == [
        ("G1", "Jamie", date(2014, 3, 1)),
        ("G2", "Alex", date(2011, 7, 20)),
    ]
    assert all(set(p) == set(PERSON_FIELDS) for p in people)
    # G3's date is not ISO 8601: skipped and reported by position, never by value.
    assert [(p.file, p.line, p.column) for p in adapter.problems] == [("GET /patients", 3, "dob")]


async def test_an_empty_hint_asks_the_api_nothing(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        assert await adapter.candidates({"family_name": None}) == []
    assert server.seen.queries == []


async def test_a_rejected_token_is_a_config_error(server: Server) -> None:
    async with adapter_for(server.base_url, token="wrong") as adapter:
        with pytest.raises(ConfigError, match="HTTP 401"):
            await adapter.candidates({"family_name": "Smith"})


async def test_records_by_ids_query_keep_only_the_people_asked_about(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        rows = await adapter.records("gp_consultations", ["G1"])
    assert rows == [{**CONSULTATIONS[0], "source_id": "G1"}]


async def test_records_by_per_person_path(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        rows = await adapter.records("gp_summary", ["G1", "G2"])
    assert rows == [
        {"ref": "G1", "alerts": ["child protection plan"], "source_id": "G1"},
        {"ref": "G2", "alerts": [], "source_id": "G2"},
    ]


async def test_503_twice_then_200_is_retried_to_success(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/flaky", retries=2) as adapter:
        people = await adapter.candidates({"family_name": "Smith"})
    assert [p["source_id"] for p in people] == ["G1"]
    assert server.seen.flaky_calls == 3


async def test_503_beyond_the_retries_is_transient(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/flaky", retries=1) as adapter:
        with pytest.raises(TransientError, match="HTTP 503"):
            await adapter.candidates({"family_name": "Smith"})
    assert server.seen.flaky_calls == 2


async def test_a_404_is_a_config_error(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        with pytest.raises(ConfigError, match="HTTP 404"):
            await adapter.records("missing", ["G1"])


async def test_an_unknown_category_is_a_config_error(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        with pytest.raises(ConfigError, match="'police_incidents'"):
            await adapter.records("police_incidents", ["G1"])


async def test_a_timeout_is_transient(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/slow", timeout_s=0.1, retries=0) as adapter:
        with pytest.raises(TransientError, match="ReadTimeout"):
            await adapter.candidates({"family_name": "Smith"})


async def test_an_unreachable_port_is_transient_and_the_message_holds_no_personal_data() -> None:
    async with adapter_for(f"http://127.0.0.1:{free_port()}", retries=1) as adapter:
        with pytest.raises(TransientError, match="failed 2 times") as caught:
            await adapter.candidates({"family_name": "Smith", "dob": date(2014, 3, 1)})
    assert "Smith" not in str(caught.value)
    assert "2014" not in str(caught.value)


async def test_stop_is_idempotent(server: Server) -> None:
    adapter = adapter_for(server.base_url)
    async with adapter:
        pass
    await adapter.stop()
    assert not adapter.started
