"""Against a real HTTP server on 127.0.0.1, run by uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.sdk.adapters import (
    PERSON_FIELDS,
    HttpSourceConfig,
    NothingHeld,
    SourceAdapter,
    SourceMisconfigured,
    SourceUnavailable,
    build_adapter,
)
from jigsaw.errors import ConfigError, FatalError, TransientError
from jigsaw.serving import free_port

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
        if ref not in {p["patient_ref"] for p in PATIENTS}:
            return JSONResponse({"error": "no such patient"}, status_code=404)
        return JSONResponse({"ref": ref, "alerts": ["child protection plan"] if ref == "G1" else []})

    async def flaky(request: Request) -> Response:
        seen.flaky_calls += 1
        if seen.flaky_calls <= 2:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse([PATIENTS[0]])

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return JSONResponse([])

    async def nobody(request: Request) -> Response:
        return JSONResponse({"error": "no such person"}, status_code=404)

    async def strict(request: Request) -> Response:
        # An API that does not know one of the query's parameters.
        return JSONResponse({"error": "unknown parameter: family_name"}, status_code=400)

    return Starlette(
        routes=[
            Route("/api/patients", patients),
            Route("/api/consultations", consultations),
            Route("/api/gp/{ref}/summary", summary),
            Route("/api/flaky", flaky),
            Route("/api/slow", slow),
            Route("/api/nobody", nobody),
            Route("/api/strict", strict),
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


async def test_a_rejected_token_is_retried_later_not_fatal(server: Server) -> None:
    async with adapter_for(server.base_url, token="expired", retries=1) as adapter:
        with pytest.raises(SourceUnavailable, match="HTTP 401") as caught:
            await adapter.candidates({"family_name": "Smith"})
    assert not isinstance(caught.value, FatalError)
    assert server.seen.authorization == ["Bearer expired"] * 2


async def test_an_expired_token_is_renewed_from_token_file(server: Server, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("expired\n")
    async with adapter_for(server.base_url, token=None, token_file=str(token_file), retries=1) as adapter:
        with pytest.raises(SourceUnavailable, match="HTTP 401"):
            await adapter.candidates({"family_name": "Smith"})
        token_file.write_text(f"{TOKEN}\n")  # whatever renews the token rewrites the file
        people = await adapter.candidates({"family_name": "Smith"})
    assert [p["source_id"] for p in people] == ["G1", "G2"]
    # Refused, the file is read again before the next try.
    assert server.seen.authorization == ["Bearer expired"] * 3 + [f"Bearer {TOKEN}"]


async def test_a_refusal_with_no_token_to_renew_is_fatal(server: Server) -> None:
    async with adapter_for(server.base_url, token=None) as adapter:
        with pytest.raises(SourceMisconfigured, match="HTTP 401, and no token is set"):
            await adapter.candidates({"family_name": "Smith"})
    assert len(server.seen.authorization) == 1, "not retried: nothing could change"


async def test_an_unreadable_token_file_is_a_config_error_at_start(tmp_path: Path) -> None:
    adapter = adapter_for("http://127.0.0.1:1", token=None, token_file=str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="token_file"):
        await adapter.start()


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


async def test_a_404_for_a_person_is_nothing_held_for_that_person(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        rows = await adapter.records("gp_summary", ["G1", "G9"])
        assert await adapter.records("missing", ["G1"]) == []
    assert rows == [{"ref": "G1", "alerts": ["child protection plan"], "source_id": "G1"}]


async def test_a_404_from_the_persons_path_is_nothing_held(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/nobody") as adapter:
        with pytest.raises(NothingHeld):
            await adapter.candidates({"family_name": "Smith"})


async def test_a_400_is_fatal_and_names_the_source_and_status_but_no_personal_data(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/strict") as adapter:
        with pytest.raises(SourceMisconfigured) as caught:
            await adapter.candidates({"family_name": "Smith", "dob": date(2014, 3, 1)})
    assert isinstance(caught.value, FatalError)
    message = str(caught.value)
    assert f"HTTP source {server.base_url}" in message
    assert "GET /strict returned HTTP 400" in message
    assert "Smith" not in message
    assert "2014" not in message
    assert server.seen.queries == [], "not retried"


async def test_503_and_timeouts_are_retried_later(server: Server) -> None:
    async with adapter_for(server.base_url, persons_path="/flaky", retries=0) as adapter:
        with pytest.raises(SourceUnavailable, match="HTTP 503"):
            await adapter.candidates({"family_name": "Smith"})
    async with adapter_for(server.base_url, persons_path="/slow", timeout_s=0.1, retries=0) as adapter:
        with pytest.raises(SourceUnavailable, match="ReadTimeout") as caught:
            await adapter.candidates({"family_name": "Smith"})
    assert caught.value.retriable
    assert not isinstance(caught.value, FatalError)


async def test_an_unknown_category_is_a_config_error(server: Server) -> None:
    async with adapter_for(server.base_url) as adapter:
        with pytest.raises(ConfigError, match="'police_incidents'") as caught:
            await adapter.records("police_incidents", ["G1"])
    assert isinstance(caught.value, FatalError), "met while answering, it stops the connector"


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
