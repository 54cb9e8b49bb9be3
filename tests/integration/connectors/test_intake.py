"""Through the real Kafka, broker and hub: an unsolicited report opens its referral at the MASH front door,
under the report's own referral id, even when the front door is down at the time of the report, and
exactly once; the agency's return meets the referral at the broker. A forged report opens nothing, and a
hub that is not the front door does not read reports at all. No connector holds a hub credential."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.police import Incident
from connectors.sdk.intake import ReportReferral, report_message
from devkit.testkit.broker import Rig, write_keys
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.reader import end_offsets, read_to_end
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings
from jigsaw.ids import new_msg_id, new_referral_id
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import ENVELOPE, _signing_bytes
from jigsaw.wire.framing import micros
from services.hub.app import run
from services.hub.config import ApiToken, HubSettings, token_hash
from services.hub.reports import store_path
from tests.integration.connectors.connkit import ConnectorRig
from tests.integration.kafkautil import eventually

CSC = {"Authorization": "Bearer csc-token"}
REFERRAL = {
    "subjects": [
        {
            "subject_ref": "S1",
            "role": "CHILD",
            "given_names": "Callum",
            "family_name": "Hartley",
            "dob": "2014-03-02",
        }
    ],
    "concerns": ["NEGLECT"],
    "source_type": "POLICE",
    "rag": "RED",
    "summary": "Child found alone late at night",
}
INCIDENT = Incident(
    source_id="P-100",
    recorded_on=date(2026, 11, 1),
    incident_ref="CTN-1",
    incident_date=date(2026, 11, 1),
    incident_type="Coming to notice",
    subject_role="PRESENT",
    summary="Child found alone late at night",
)


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[Rig]:
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


@pytest.fixture
async def connector(rig: Rig, tmp_path: Path) -> AsyncIterator[ConnectorRig]:
    c = await ConnectorRig.create(
        rig.kafka, rig.topics, rig.registry, tmp_path / "police", rig.world, partitions=2
    )
    await c.start()
    yield c
    await c.close()


def _settings(rig: Rig, tmp: Path, subscriber: str = "csc-mash") -> HubSettings:
    keys = write_keys(rig.world, tmp / f"keys-{subscriber}", subscriber, "hub.devon")
    token = ApiToken(
        subscriber=subscriber, sha256=token_hash("csc-token"), scopes=frozenset({"read", "triage"})
    )
    return HubSettings(
        kafka=rig.kafka,
        subscriber=subscriber,
        policy=rig.settings.policy,
        keys=keys,
        state_dir=tmp / f"hub-{subscriber}",
        api_port=0,
        metrics=MetricsSettings(enabled=False),
        partitions=2,
        consumer=ConsumerSettings(group_id=f"{rig.topics.prefix}-hub-{subscriber}", retry_backoff_s=0.05),
        api_tokens={"case-system": token},
    )


class Hub:
    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(run(settings, self.stop, self.port.set_result))

    async def client(self) -> httpx.AsyncClient:
        port = await asyncio.wait_for(self.port, 60)
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=CSC)

    async def close(self) -> None:
        self.stop.set()
        await self.task


async def _kinds(rig: Rig, topic: str, rid: str) -> list[str]:
    return [
        dict(r.headers).get("jigsaw-kind", b"").decode()
        for r in await read_to_end(rig.kafka, topic)
        if r.key == rid.encode()
    ]


async def _referrals(rig: Rig, rid: str) -> int:
    return len([r for r in await read_to_end(rig.kafka, rig.topics.referrals) if r.key == rid.encode()])


async def _read_reports(rig: Rig, settings: HubSettings) -> None:
    """Until the front door's report loop has consumed every intelligence topic to its end."""
    ends = await end_offsets(rig.kafka, [rig.topics.intel("police"), rig.topics.intel("education")])

    async def done() -> bool:
        with sqlite3.connect(store_path(settings)) as conn:
            stored = {(t, p): o for t, p, o in conn.execute("SELECT * FROM kernel_offsets")}
        return all(stored.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items() if end)

    await eventually(done, what="the front door's reports read to the end")


async def test_a_report_made_while_the_front_door_is_down_opens_its_referral_once(
    rig: Rig, connector: ConnectorRig, tmp_path: Path
) -> None:
    assert connector.runtime is not None
    assert "intake" not in connector.config.model_dump(), "no connector holds a hub credential"
    rid, _ = connector.runtime.report(
        subject_ref="S1", category="police_incidents", records=[INCIDENT], referral=REFERRAL
    )

    async def reported() -> bool:
        return await _kinds(rig, rig.topics.intel("police"), rid) == ["INTEL", "REPORT"]

    await eventually(reported, what="the return and the report on the police intel topic")
    settings = _settings(rig, tmp_path)
    hub = Hub(settings)  # the front door comes up only after the report
    api = await hub.client()
    try:
        await eventually(lambda: _referrals(rig, rid), what="the referral opened at the front door")

        answers: list[str] = []

        async def assigned() -> bool:
            r = await api.post(f"/cases/{rid}/assignments", json={"subscribers": ["csc-mash"]})
            answers.append(f"{r.status_code} {r.text[:200]}")
            return r.status_code == 202

        try:
            await eventually(assigned, what="the referral assigned to the front door's desk")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the API answered {answers[-1:]}") from None

        async def met() -> bool:
            r = await api.get(f"/cases/{rid}")
            return r.status_code == 200 and "police" in r.json()["contributions"]

        await eventually(met, what="the unsolicited return in the referral's view")
        view = (await api.get(f"/cases/{rid}")).json()
        assert view["rag"] == "RED"
        assert [s["subject_ref"] for s in view["subjects"]] == ["S1"]
        # An exact copy of the report, as a connector's outbox re-sends one after a crash.
        report = [
            r for r in await read_to_end(rig.kafka, rig.topics.intel("police")) if r.key == rid.encode()
        ][1]
        await rig.producer.send_and_wait(
            rig.topics.intel("police"), report.value or b"", key=report.key, headers=list(report.headers)
        )
        await _read_reports(rig, settings)
    finally:
        await api.aclose()
        await hub.close()
    again = Hub(settings)
    await asyncio.wait_for(again.port, 60)
    await _read_reports(rig, settings)
    await again.close()
    assert await _referrals(rig, rid) == 1, "one referral, across a copy and a restart"
    enquiries = [r for r in await read_to_end(rig.kafka, rig.topics.enquiries) if r.key == rid.encode()]
    assert len(enquiries) == 7, "one enquiry per agency, sent once"
    await rig.settle()
    assert await _refusals(rig, "broker") == [], "the broker commits a report without refusing it"
    assert await _refusals(rig, "hub-csc-mash") == []


async def _refusals(rig: Rig, service: str) -> list[str]:
    """The reasons ``service`` refused records for, once per record: the DLQ is at least once, so it is read
    by source coordinates (as tests/integration/broker/test_attacks.py reads it)."""
    codec = DeadLetterCodec(rig.registry, "test")
    letters = [codec.decode(r.value) for r in await read_to_end(rig.kafka, rig.topics.dlq) if r.value]
    mine = [d for d in letters if d["service"] == service]
    once = {(d["source_topic"], d["source_partition"], d["source_offset"]): d for d in mine}
    return [d["reason"] for _, d in sorted(once.items())]


def _forged_reports(rig: Rig) -> list[tuple[str, str, bytes]]:
    """(topic, referral id, value) of three REPORTs the front door must refuse."""
    schema = rig.registry.latest(ENVELOPE)

    def report(sender: str, agency: str, to: str = "hub.devon") -> tuple[str, bytes]:
        rid = new_referral_id()
        body, sections = report_message(
            ReportReferral.model_validate(REFERRAL), agency=agency, source=sender, return_msg_id=new_msg_id()
        )
        value = rig.world.party(sender).seal(
            kind="REPORT", referral_id=rid, body=body, sections=sections, recipients=[to]
        )
        return rid, value

    on_theirs = report("police.devon", "police")
    to_broker = report("police.devon", "police", to="broker")
    rid, value = report("police.devon", "police")
    env: dict[str, Any] = rig.registry.decode(value, schema)
    env["sections"] = rig.registry.decode(report("education.devon", "education")[1], schema)["sections"]
    key = rig.world.keys["police.devon"].current.sign
    env["signature"] = key.sign(_signing_bytes(env, micros(env["created_at"])))
    return [
        (rig.topics.intel("education"), *on_theirs),
        (rig.topics.intel("police"), *to_broker),
        (rig.topics.intel("police"), rid, rig.registry.encode(schema, env)),
    ]


async def test_forged_reports_are_dead_letters_and_open_nothing(rig: Rig, tmp_path: Path) -> None:
    settings = _settings(rig, tmp_path)
    hub = Hub(settings)
    await asyncio.wait_for(hub.port, 60)
    forged = _forged_reports(rig)
    try:
        for topic, rid, value in forged:
            await rig.producer.send_and_wait(topic, value, key=rid.encode())

        async def all_refused() -> bool:
            return len(await _refusals(rig, "hub-csc-mash")) == len(forged)

        await eventually(all_refused, what="the forged reports dead-lettered at the front door")
        reasons = await _refusals(rig, "hub-csc-mash")
        assert sorted(reasons) == ["CONTEXT_MISMATCH", "NOT_A_RECIPIENT", "POLICY_ERROR"]
        await _read_reports(rig, settings)
        await rig.settle()
    finally:
        await hub.close()
    for _, rid, _ in forged:
        assert await _referrals(rig, rid) == 0
    assert await _refusals(rig, "broker") == ["POLICY_ERROR"], "the broker refuses one on another's topic"


async def test_a_hub_that_is_not_the_front_door_reads_no_reports(
    rig: Rig, connector: ConnectorRig, tmp_path: Path
) -> None:
    assert connector.runtime is not None
    settings = _settings(rig, tmp_path, "police-mash")  # with the front door's keys, even
    hub = Hub(settings)
    await asyncio.wait_for(hub.port, 60)
    try:
        rid, _ = connector.runtime.report(
            subject_ref="S1", category="police_incidents", records=[INCIDENT], referral=REFERRAL
        )

        async def reported() -> bool:
            return "REPORT" in await _kinds(rig, rig.topics.intel("police"), rid)

        await eventually(reported, what="the report on the police intel topic")
        await rig.settle()
    finally:
        await hub.close()
    assert not store_path(settings).exists(), "no report loop, no report store"
    assert await _referrals(rig, rid) == 0
