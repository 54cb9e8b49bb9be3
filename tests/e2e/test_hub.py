"""Intake, broker and hub through the real Kafka: a referral opened through the API reaches the agencies,
their returns build a view with exactly what the policy allows, a deadline passes and shows as breached,
a decision reaches its topic, and a restart or a rebuild gives identical views."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.testkit.broker import Rig, write_keys
from jigsaw.bus.reader import read_to_end
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings
from jigsaw.errors import NotARecipient
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros
from services.hub.app import rebuild, run
from services.hub.config import SCOPES, ApiToken, HubSettings, token_hash
from services.hub.view import render
from tests.integration.kafkautil import eventually

CSC = {"Authorization": "Bearer csc-token"}
TODAY = date.today()


def _hub_settings(rig: Rig, tmp: Path) -> HubSettings:
    keys = write_keys(rig.world, tmp / "keys", "csc-mash", "hub.devon", "broker")
    return HubSettings(
        kafka=rig.kafka,
        subscriber="csc-mash",
        policy=rig.settings.policy,
        keys=keys,
        state_dir=tmp / "hub",
        api_port=0,
        metrics=MetricsSettings(enabled=False),
        partitions=2,
        consumer=ConsumerSettings(group_id=f"{rig.topics.prefix}-hub", retry_backoff_s=0.05),
        api_tokens={
            "case-system": ApiToken(
                subscriber="csc-mash",
                sha256=token_hash("csc-token"),
                scopes=frozenset(SCOPES),
                name="mash-manager",
            ),
            "dashboard": ApiToken(subscriber="csc-mash", sha256=token_hash("dashboard-token")),
            "police-system": ApiToken(
                subscriber="police-mash", sha256=token_hash("police-token"), scopes=frozenset(SCOPES)
            ),
        },
        # Clock hours, so that the RED deadline passes during the test whenever it runs (in working hours
        # it would not start until the next working morning).
        timescales_h={"RED": 0.001, "AMBER": 24, "GREEN": 72},
        timescales_in="hours",
    )


class Hub:
    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(run(settings, self.stop, self.port.set_result))

    async def client(self) -> httpx.AsyncClient:
        port = await asyncio.wait_for(self.port, 60)
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)

    async def close(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[Rig]:
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


def _incidents() -> dict[str, Any]:
    base = {
        "kind": "FACT",
        "source": "Niche RMS",
        "recorded_on": TODAY,
        "incident_type": "Domestic incident",
        "subject_role": "WITNESS",
        "domestic_abuse": True,
        "child_present": True,
        "ppn_submitted": True,
        "summary": "Child present during a domestic incident",
    }
    return {
        "subject_ref": "S1",
        "incidents": [
            {**base, "incident_ref": "INC-1", "incident_date": TODAY - timedelta(days=40)},
            {**base, "incident_ref": "INC-2", "incident_date": TODAY - timedelta(days=3)},
        ],
    }


def _probation() -> dict[str, Any]:
    return {
        "subject_ref": "S2",
        "records": [
            {
                "kind": "FACT",
                "source": "nDelius",
                "recorded_on": TODAY,
                "mappa_category": "CATEGORY_2",
                "mappa_level": "LEVEL_1",
                "custody_status": "IN_CUSTODY",
                "release_date": TODAY + timedelta(days=12),
                "offence_type": "Violence",
                "registered_sex_offender": False,
                "rosh_level": "HIGH",
                "licence_conditions": ["Not to contact the victim"],
                "offender_manager_role": "Probation officer",
            }
        ],
    }


REFERRAL = {
    "subjects": [
        {
            "subject_ref": "S1",
            "role": "CHILD",
            "given_names": "Callum",
            "family_name": "Hartley",
            "dob": "2014-03-02",
            "postcode": "EX4 1AA",
        },
        {
            "subject_ref": "S2",
            "role": "PARENT",
            "given_names": "Dean",
            "family_name": "Hartley",
            "dob": "1988-07-19",
            "pnc": "98/1234567X",
        },
    ],
    "concerns": ["NEGLECT", "DOMESTIC_ABUSE"],
    "source_type": "PUBLIC",
    "rag": "RED",
    "summary": "A neighbour reports repeated shouting and a child left alone",
    "referrer": {
        "name": "A Neighbour",
        "relationship_to_child": "neighbour",
        "is_professional": False,
        "phone": "07700 900123",
    },
    "agencies": ["police", "probation", "health"],
}


async def test_referral_to_case_view_through_kafka_broker_and_hub(rig: Rig, tmp_path: Path) -> None:
    settings = _hub_settings(rig, tmp_path)
    hub = Hub(settings)
    api = await hub.client()
    try:
        assert (await api.get("/cases")).status_code == 401
        refused = await api.get("/cases", headers={"Authorization": "Bearer police-token"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"

        opened = await api.post("/referrals", json=REFERRAL, headers=CSC)
        assert opened.status_code == 201, opened.text
        rid = opened.json()["referral_id"]
        enquiries = {e["agency"]: e for e in opened.json()["enquiries"]}
        await _refusals(api, rid)

        # The enquiries reach the agencies, each sealed to the one agency it addresses.
        sent = [r for r in await read_to_end(rig.kafka, rig.topics.enquiries) if r.key == rid.encode()]
        assert len(sent) == 3
        police_view = [
            rig.world.party("police.devon").open(r.value, r.key)
            for r in sent  # type: ignore[arg-type]
            if b"police" in (r.value or b"")
        ]
        assert police_view[0].body["enquiry_id"] == enquiries["police"]["enquiry_id"]
        assert police_view[0].section("identity", "S1").payload["names"][0]["family_name"] == "Hartley"  # type: ignore[union-attr]
        police_record = next(r for r in sent if b"police" in (r.value or b""))
        with pytest.raises(NotARecipient):
            rig.world.party("probation.devon").open(police_record.value or b"", police_record.key)

        assign = await api.post(
            f"/cases/{rid}/assignments",
            headers=CSC,
            json={"subscribers": ["csc-mash", "police-mash"], "assigned_by": "mash-manager"},
        )
        assert assign.status_code == 202
        await _answer(
            rig,
            rid,
            "police.devon",
            enquiries["police"]["enquiry_id"],
            [SectionInput("police_incidents", _incidents())],
            "S1",
        )
        await _answer(
            rig,
            rid,
            "probation.devon",
            enquiries["probation"]["enquiry_id"],
            [SectionInput("probation", _probation())],
            "S2",
        )

        async def has_both() -> bool:
            r = await api.get(f"/cases/{rid}", headers=CSC)
            return r.status_code == 200 and {"police", "probation"} <= set(r.json()["contributions"])

        await eventually(has_both, what="police and probation contributions in the view")
        view = (await api.get(f"/cases/{rid}", headers=CSC)).json()
        assert {f["flag"] for f in view["flags"]} >= {
            "release_within_28_days",
            "repeat_domestic_abuse_child_present",
        }
        withheld = {(w["category"], w["rule_id"]) for w in view["withheld"]}
        assert ("referrer_identity", "SYS-REDACTED") in withheld, (
            "the public referrer's identity stays protected"
        )
        assert view["rag"] == "RED"
        assert [s["subject_ref"] for s in view["subjects"]] == ["S1", "S2"]
        timeline = (await api.get(f"/cases/{rid}/timeline", headers=CSC)).json()
        first = next(e["what"] for e in timeline if e["category"] == "police_incidents")
        assert first.startswith("Child present")

        async def health_breached() -> bool:
            r = await api.get(f"/cases/{rid}", headers=CSC)
            return any(e["agency"] == "health" and e["breached"] for e in r.json()["enquiries"])

        await eventually(health_breached, what="the unanswered health enquiry breached")
        listed = (await api.get("/cases", params={"breached": "true"}, headers=CSC)).json()
        assert rid in [c["referral_id"] for c in listed]
        answered = {e["agency"]: e for e in (await api.get(f"/cases/{rid}", headers=CSC)).json()["enquiries"]}
        assert answered["police"]["outstanding"] is False

        decided = await api.post(
            f"/cases/{rid}/decision",
            headers=CSC,
            json={
                "outcome": "STRATEGY_DISCUSSION_S47",
                "reason": "Risk of significant harm: strategy discussion today",
                "decided_by": "team-manager-4",
                "referrer_feedback": {"given": True, "method": "PHONE"},
            },
        )
        assert decided.status_code == 202
        decisions = [r for r in await read_to_end(rig.kafka, rig.topics.decisions) if r.key == rid.encode()]
        bodies = [rig.world.party("csc-mash").verify(r.value, r.key).body for r in decisions]  # type: ignore[arg-type]
        assert "STRATEGY_DISCUSSION_S47" in [b["outcome"] for b in bodies]

        async def decided_in_view() -> bool:
            r = await api.get(f"/cases/{rid}", headers=CSC)
            return (r.json()["decision"] or {}).get("outcome") == "STRATEGY_DISCUSSION_S47"

        await eventually(decided_in_view, what="the decision in the view")
        decision = (await api.get(f"/cases/{rid}", headers=CSC)).json()["decision"]
        assert decision["decided_by"] == "mash-manager", "the token's name, not the body's decided_by"
        await _after_the_decision(rig, api, rid, police_view[0].body, enquiries["police"]["enquiry_id"])
        await rig.settle()
    finally:
        await api.aclose()
        await hub.close()

    at = now_micros()
    live = _render(settings.store_path(), rid, at)
    again = Hub(settings)
    await asyncio.wait_for(again.port, 60)
    await again.close()
    assert _render(settings.store_path(), rid, at) == live, "a restart gives the identical view"
    rebuilt = tmp_path / "rebuilt.sqlite"
    assert await rebuild(settings, rebuilt) > 0
    assert _render(rebuilt, rid, at) == live, "a rebuild gives the identical view"


async def _after_the_decision(
    rig: Rig, api: httpx.AsyncClient, rid: str, enquiry: dict[str, Any], police_enquiry: str
) -> None:
    """Each enquiry names the agreement's own reference and its purpose's lawful basis, with DPA 2018
    Part 3 for the police (issue #15). A police return after the decision is late information, marked so
    for the screening desk (DOMAIN.md). A sibling joins the case mid-way."""
    assert enquiry["isa_ref"] == "DEVON-MASH-ISA-2026"
    assert "Part 3" in enquiry["lawful_basis"]
    conviction = {
        "kind": "FACT",
        "source": "PNC",
        "recorded_on": TODAY,
        "disposal_type": "CONVICTION",
        "offence": "Assault occasioning actual bodily harm",
        "offence_category": "VIOLENCE",
        "disposal_date": TODAY - timedelta(days=400),
        "outcome": "Community order",
    }
    payload = {"subject_ref": "S2", "disposals": [conviction], "markers": [], "bail": []}
    await _answer(
        rig, rid, "police.devon", police_enquiry, [SectionInput("police_convictions", payload)], "S2"
    )

    async def late_in_view() -> bool:
        view = (await api.get(f"/cases/{rid}", headers=CSC)).json()
        late = [s for s in view["contributions"].get("police", []) if s["category"] == "police_convictions"]
        return bool(late) and late[0]["late"] and view["late_information"]["since_decision"]

    await eventually(late_in_view, what="the late police return marked late in the view")
    sibling = {"subject_ref": "S3", "role": "SIBLING", "given_names": "Amy", "family_name": "Hartley"}
    body = {"subject": sibling, "reason": "A sister lives at the address", "agencies": ["police"]}
    added = await api.post(f"/cases/{rid}/subjects", headers=CSC, json=body)
    assert added.status_code == 202, added.text
    assert [e["agency"] for e in added.json()["enquiries"]] == ["police"]

    async def sibling_in_view() -> bool:
        view = (await api.get(f"/cases/{rid}", headers=CSC)).json()
        return any(s["subject_ref"] == "S3" and s["role"] == "SIBLING" for s in view["subjects"])

    await eventually(sibling_in_view, what="the sibling added mid-way in the view")


async def _refusals(api: httpx.AsyncClient, rid: str) -> None:
    """Through the real hub: a read-only token cannot write, an id is opened once, a write needs a
    referral that exists, and a body over the limit is refused before it is parsed."""
    nfa = {"outcome": "NO_FURTHER_ACTION", "reason": "r"}
    dashboard = {"Authorization": "Bearer dashboard-token"}
    assert (await api.get(f"/cases/{rid}", headers=dashboard)).status_code in (200, 404)
    assert (await api.post(f"/cases/{rid}/decision", json=nfa, headers=dashboard)).status_code == 403
    again = await api.post("/referrals", json={**REFERRAL, "referral_id": rid}, headers=CSC)
    assert again.status_code == 409, again.text
    nowhere = await api.post(f"/cases/R-{'0' * 32}/decision", json=nfa, headers=CSC)
    assert nowhere.status_code == 404, nowhere.text
    big = await api.post("/referrals", json={**REFERRAL, "summary": "x" * 100_000}, headers=CSC)
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"


def _render(path: Path, rid: str, at: int) -> dict[str, Any] | None:
    with sqlite3.connect(path) as conn:
        return render(conn, rid, at)


async def _answer(
    rig: Rig, rid: str, sender: str, enquiry_id: str, items: list[SectionInput], subject: str
) -> None:
    agency = rig.world.keys[sender].agency
    body = {
        "enquiry_id": enquiry_id,
        "agency": agency,
        "unsolicited": False,
        "connector_version": "test",
        "matches": [
            {"subject_ref": subject, "method": "EXACT_PNC", "confidence": 1.0, "source_record_count": 1}
        ],
        "nothing_held_categories": [],
    }
    await rig.send(sender, "INTEL", rid, body, items)
