"""A police connector over a real SQLite source, with the participants and keys it needs."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.police import Contact, Incident
from connectors.sdk.adapters import HttpSourceConfig, SqlSourceConfig
from connectors.sdk.app import run
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.config import ConnectorConfig
from connectors.sdk.runtime import ConnectorRuntime
from devkit.testkit.broker import write_keys
from devkit.testkit.wire import World, make_world
from jigsaw.bus.clients import Producer
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings
from jigsaw.serving import serve
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros


class IncidentsConnector(Connector):
    """The police reference connector cut down to the two records keys this small source has."""

    records: ClassVar[dict[str, type[SourceRecord]]] = {"police_incidents": Incident, "contact": Contact}


PERSONS = [
    ("P-100", "Callum", "Hartley", "2014-03-02", "EX4 1AA"),
    ("P-200", "Dean", "Hartley", "1988-07-19", "EX4 1AA"),
    ("P-300", "Amelia", "Smith-Jones", "2012-11-30", "EX2 9QQ"),
]
INCIDENTS = [
    (
        "P-100",
        "INC-1",
        "2026-10-01",
        "Theft of pedal cycle",
        "SUSPECT",
        None,
        0,
        "Bike taken from school racks",
    ),
    ("P-200", "INC-2", "2026-09-12", "Domestic incident", "SUSPECT", 1, 1, "Argument, children present"),
    (
        "P-300",
        "INC-3",
        "not a date",
        "Missing person",
        "MISSING_PERSON",
        None,
        0,
        "Reported missing overnight",
    ),
]


def make_source(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE persons (person_id TEXT, forename TEXT, surname TEXT, dob TEXT, postcode TEXT)"
        )
        conn.execute(
            "CREATE TABLE incidents (person_id TEXT, ref TEXT, happened TEXT, type TEXT, role TEXT,"
            " child_present INTEGER, da INTEGER, summary TEXT)"
        )
        conn.executemany("INSERT INTO persons VALUES (?, ?, ?, ?, ?)", PERSONS)
        conn.executemany("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?)", INCIDENTS)
    return path


def source_config(path: Path) -> SqlSourceConfig:
    return SqlSourceConfig(
        url=f"sqlite:///{path}",  # type: ignore[arg-type]
        persons_query="SELECT person_id AS source_id, forename AS given_names, surname AS family_name, dob,"
        " postcode FROM persons WHERE surname = :family_name OR dob = :dob",
        category_queries={
            "police_incidents": "SELECT person_id AS source_id, ref AS incident_ref,"
            " happened AS incident_date, type AS incident_type, role AS subject_role, child_present,"
            " da AS domestic_abuse,"
            " summary, happened AS recorded_on FROM incidents WHERE person_id IN :source_ids",
            "contact": "SELECT DISTINCT person_id AS source_id, date('now') AS recorded_on FROM incidents"
            " WHERE person_id IN :source_ids",
        },
    )


class SourceApi:
    """The same persons and incidents behind an HTTP API, which a test can take down (503) or make refuse
    every token but ``token`` (401), as a source whose token has expired does."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.down = False
        self.calls: list[int] = []  # the status of every answer, in order
        self.port = 0
        routes = [
            Route("/persons", self._persons),
            Route("/incidents", self._incidents),
            Route("/contact", self._contact),
        ]
        self._app = Starlette(routes=routes)

    def _refusal(self, request: Request) -> JSONResponse | None:
        if self.down:
            self.calls.append(503)
            return JSONResponse({"error": "down for maintenance"}, status_code=503)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            self.calls.append(401)
            return JSONResponse({"error": "token expired"}, status_code=401)
        self.calls.append(200)
        return None

    async def _persons(self, request: Request) -> JSONResponse:
        q = request.query_params
        people = [
            {"source_id": p, "given_names": g, "family_name": f, "dob": d, "postcode": pc}
            for p, g, f, d, pc in PERSONS
            if f == q.get("family_name") or d == q.get("dob")
        ]
        return self._refusal(request) or JSONResponse(people)

    async def _incidents(self, request: Request) -> JSONResponse:
        ids = request.query_params.getlist("ids")
        rows = [
            {
                "source_id": pid,
                "incident_ref": ref,
                "incident_date": happened,
                "incident_type": kind,
                "subject_role": role,
                "child_present": child,
                "domestic_abuse": bool(da),
                "summary": summary,
                "recorded_on": happened,
            }
            for pid, ref, happened, kind, role, child, da, summary in INCIDENTS
            if pid in ids
        ]
        return self._refusal(request) or JSONResponse(rows)

    async def _contact(self, request: Request) -> JSONResponse:
        rows = [
            {"source_id": pid, "recorded_on": date.today().isoformat()}
            for pid in request.query_params.getlist("ids")
        ]
        return self._refusal(request) or JSONResponse(rows)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[SourceApi]:
        async with serve(self._app, "127.0.0.1", 0, "source-api") as served:
            assert served.port, "the source API did not start"
            self.port = served.port
            yield self

    def config(self, token_file: Path) -> HttpSourceConfig:
        return HttpSourceConfig(
            base_url=f"http://127.0.0.1:{self.port}",
            persons_path="/persons",
            category_paths={"police_incidents": "/incidents", "contact": "/contact"},
            token_file=token_file,
            retries=0,  # leave the retrying to the consume loop, where the test can see it
            timeout_s=5,
        )


@dataclass
class ConnectorRig:
    kafka: KafkaSettings
    topics: Topics
    registry: SchemaRegistry
    world: World
    config: ConnectorConfig
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    runtime: ConnectorRuntime | None = None
    port: int = 0  # its metrics and health port

    @classmethod
    async def create(
        cls,
        kafka: KafkaSettings,
        topics: Topics,
        registry: SchemaRegistry,
        tmp: Path,
        world: World | None = None,
        partitions: int = 3,
    ) -> ConnectorRig:
        """``world``: the participants to share, with a broker or hub under test; by default, its own."""
        if world is None:
            world = make_world(registry)
            world.add("hub.devon", "HUB")
        keys = write_keys(world, tmp / "keys", "police.devon")
        config = ConnectorConfig(
            participant_id="police.devon",
            agency="police",
            connector="tests.integration.connectors.connkit:IncidentsConnector",
            source=source_config(make_source(tmp / "police.sqlite")),
            kafka=kafka,
            keys=keys,
            metrics=MetricsSettings(port=0),
            state_dir=tmp / "state",
            consumer=ConsumerSettings(group_id=f"{topics.prefix}-police", retry_backoff_s=0.05),
            partitions=partitions,
        )
        rig = cls(kafka, topics, registry, world, config)
        await rig.publish_keys()
        return rig

    async def publish_keys(self) -> None:
        from jigsaw.bus.admin import ensure_topics

        await ensure_topics(self.kafka, self.topics.specs(["police"], [], self.config.partitions))
        async with Producer(self.kafka) as producer:
            for key, value in self.world.records:
                await producer.send_and_wait(self.topics.keys, value, key=key)

    async def start(self) -> None:
        ready: asyncio.Future[ConnectorRuntime] = asyncio.get_running_loop().create_future()
        self.stop = asyncio.Event()

        def started(runtime: ConnectorRuntime, port: int) -> None:
            self.port = port
            ready.set_result(runtime)

        self.task = asyncio.create_task(run(self.config, self.stop, started))
        self.runtime = await asyncio.wait_for(ready, 60)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    async def enquire(
        self,
        rid: str,
        subjects: list[dict[str, Any]],
        to: str = "police.devon",
        categories: tuple[str, ...] = ("contact", "police_incidents"),
    ) -> str:
        body = {
            "enquiry_id": str(uuid.uuid4()),
            "addressed_agencies": [to],
            "subject_refs": [s["subject_ref"] for s in subjects],
            "categories": list(categories),
            "purpose": "TRIAGE",
            "lawful_basis": "DPA 2018 Sch 1 para 18",
            "legal_reason": "Children Act s47",
            "isa_ref": "ISA",
            "rag": "RED",
            "deadline": now_micros(),
            "requested_by": "mash",
        }
        sections = [SectionInput("identity", identity(**s)) for s in subjects]
        value = self.world.party("hub.devon").seal(
            kind="ENQUIRY", referral_id=rid, body=body, sections=sections, recipients=[to]
        )
        async with Producer(self.kafka) as producer:
            await producer.send_and_wait(self.topics.enquiries, value, key=rid.encode())
        return str(body["enquiry_id"])


def identity(subject_ref: str, given: str, family: str, dob: str) -> dict[str, Any]:
    today = date.today()
    return {
        "subject_ref": subject_ref,
        "names": [
            {
                "kind": "FACT",
                "source": "mash",
                "recorded_on": today,
                "name_type": "LEGAL",
                "given_names": given,
                "family_name": family,
            }
        ],
        "details": [
            {
                "kind": "FACT",
                "source": "mash",
                "recorded_on": today,
                "date_of_birth": date.fromisoformat(dob),
                "dob_estimated": False,
                "unborn": False,
                "gender": "NOT_STATED",
            }
        ],
    }
