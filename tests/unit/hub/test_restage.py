"""An unrated contact asked only whether it is known is asked again when the case moves on: a strategy
discussion asks every agency for the s47 picture (health for its health summary), a first rating for the
triage picture; each for what it publishes beyond screening, due by the new stage's timescale, and never
twice (a retried call, or a second RAG change, sends nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from devkit.testkit.wire import World
from jigsaw.bus.store import Conn
from jigsaw.ids import derived_id
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import micros, now_micros
from services.hub.api import Broadcast, create_app
from services.hub.config import SCOPES, ApiToken, token_hash
from services.hub.intake import CaseGround, Intake
from services.hub.restage import case_people
from services.hub.subjects import SubjectIn
from tests.unit.hub.kit import TOPICS, Consumer, Sent, hub_world, intake, open_store, release

pytestmark = pytest.mark.usefixtures("store_backend")

MASH = {"Authorization": "Bearer t"}
CHILD = SubjectIn(
    "S1", "CHILD", "Callum", "Hartley", date(2014, 3, 2), postcode="EX4 1AA", nhs="9434765919", upn="A123"
)
MOTHER = SubjectIn("S2", "PARENT", "Jo", "Hartley", date(1990, 1, 5), pnc="98/1234567X", postcode="EX4 1AA")
HOUR = 3_600_000_000


@dataclass
class Front:
    client: httpx.AsyncClient
    sent: Sent
    world: World
    rid: str
    db: Conn
    intake: Intake


@pytest.fixture
async def front(registry: SchemaRegistry, tmp_path: Path) -> AsyncIterator[Front]:
    """The front door with a real intake, whose unrated referral the consumer has read back."""
    world = hub_world(registry)
    sent = Sent()
    front_intake = intake(world, sent)
    rid, _ = await front_intake.open_referral(
        subjects=[CHILD, MOTHER],
        concerns=["NEGLECT"],
        source_type="SCHOOL",
        rag="UNKNOWN",
        summary="s",
        referrer=None,
    )
    store = open_store(tmp_path / "hub.sqlite")
    ((_, referral, _),) = [r for r in sent.records if r[0] == TOPICS.referrals]
    Consumer(world, store).feed(rid, release(world, referral, rid))
    db = store.reader()  # the API reads beside the writer, as the hub's does
    store.close()
    sent.records.clear()
    tokens = {"mash": ApiToken(subscriber="csc-mash", sha256=token_hash("t"), scopes=frozenset(SCOPES))}
    app = create_app(
        subscriber="csc-mash",
        tokens=tokens,
        db=db,
        intake=front_intake,
        broadcast=Broadcast(),
        subscribers=["csc-mash", "police-mash"],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub") as client:
        yield Front(client, sent, world, rid, db, front_intake)
    db.close()


def test_the_people_asked_about_are_the_case_s_own_as_the_front_door_sealed_them(front: Front) -> None:
    people = {p.subject_ref: p for p in case_people(front.db, front.rid)}
    assert people["S1"] == CHILD
    assert people["S2"] == MOTHER


async def test_a_strategy_discussion_on_an_unrated_contact_asks_for_the_s47_picture(front: Front) -> None:
    """DOMAIN.md: a strategy discussion needs every agency's picture; an unrated contact was asked only
    whether it was known, so health is asked now for its health summary, for STRATEGY_DISCUSSION."""
    before = now_micros()
    r = await front.client.post(
        f"/cases/{front.rid}/strategy-discussion", json={"reason": "s47 grounds"}, headers=MASH
    )
    assert r.status_code == 202, r.text
    by_agency = {e["agency"]: e for e in r.json()["enquiries"]}
    assert set(by_agency) == {"police", "health", "education", "probation"}
    (health,) = front.sent.opened(front.world, TOPICS.enquiries, "health.devon")
    assert health.body["purpose"] == "STRATEGY_DISCUSSION"
    assert "health_summary" in health.body["categories"]
    assert "identity" not in health.body["categories"], "asked beyond the screening categories only"
    assert health.body["enquiry_id"] == derived_id(
        "stage-enquiry", front.rid, "health", "STRATEGY_DISCUSSION"
    )
    # Unrated: the most urgent timescale (4 hours here), counted from now.
    assert before + 4 * HOUR <= micros(health.body["deadline"]) <= now_micros() + 4 * HOUR
    assert {s.subject_ref for s in health.sections if s.category == "identity"} == {"S1", "S2"}
    assert {s.category for s in health.sections} == {"identity", "identifier_nhs", "address"}
    # A retried call records the decision again but sends no second set of enquiries.
    again = await front.client.post(
        f"/cases/{front.rid}/strategy-discussion", json={"reason": "s47 grounds"}, headers=MASH
    )
    assert again.json()["enquiries"] == []
    assert len(front.sent.opened(front.world, TOPICS.enquiries, "health.devon")) == 1


async def test_a_first_rating_asks_for_the_triage_picture_and_a_second_does_not(front: Front) -> None:
    r = await front.client.post(f"/cases/{front.rid}/rag", json={"rag": "AMBER", "reason": "r"}, headers=MASH)
    assert r.status_code == 202, r.text
    assert {e["purpose"] for e in r.json()["enquiries"]} == {"TRIAGE"}
    (police,) = front.sent.opened(front.world, TOPICS.enquiries, "police.devon")
    assert police.body["purpose"] == "TRIAGE"
    assert police.body["rag"] == "AMBER"
    assert "police_incidents" in police.body["categories"]
    assert micros(police.body["deadline"]) > now_micros() + 23 * HOUR, "AMBER's timescale, not screening's"
    rerated = await front.client.post(
        f"/cases/{front.rid}/rag", json={"rag": "RED", "reason": "r"}, headers=MASH
    )
    assert rerated.status_code == 202
    assert rerated.json()["enquiries"] == []
    assert len(front.sent.opened(front.world, TOPICS.enquiries, "police.devon")) == 1


async def test_an_enquiry_the_store_has_recorded_is_not_sent_again(front: Front) -> None:
    """After a restart the intake's memory is gone: the store's record of the enquiry ids says."""
    eids = {a: derived_id("stage-enquiry", front.rid, a, "TRIAGE") for a in front.intake.agencies}
    people = case_people(front.db, front.rid)
    sent = await front.intake.ask_for_stage(
        front.rid,
        people,
        rag="RED",
        purpose="TRIAGE",
        immediate_risk=None,
        ground=CaseGround(),
        by="Jo",
        recorded={eids["police"]},
    )
    assert {e["agency"] for e in sent} == {"health", "education", "probation"}
