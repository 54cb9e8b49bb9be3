"""The hub keeps an agency's old releases after the agency's keys are rotated or retired, and refuses a
release whose withheld notice the broker did not stamp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from devkit.testkit.wire import World, contact, identity, intel_body, make_world
from jigsaw.bus.records import Record
from jigsaw.bus.store import Store
from jigsaw.errors import ForgedWithheld
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import ENVELOPE, SectionInput, Withhold
from services.hub import store as hub_store
from services.hub.consumer import HubProcessor
from services.hub.metrics import HubMetrics

R = "R-0100"
TOPICS = Topics()


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return make_world(registry)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "hub.sqlite", hub_store.SCHEMA)
    s.open()
    yield s
    s.close()


def _release(world: World) -> bytes:
    value = world.party("police.devon").seal(
        kind="INTEL",
        referral_id=R,
        body=intel_body(),
        sections=[SectionInput("identity", identity()), SectionInput("contact", contact())],
        recipients=["broker"],
    )
    broker = world.party("broker")
    return broker.rekey(
        broker.verify(value, R.encode()),
        "csc-mash",
        {("contact", "S1"): Withhold("WITHHOLD: not at screening", "R-STAGE-1")},
        decision_id="D-1",
        policy_version="v1",
    )


def _consume(world: World, store: Store, value: bytes) -> list[tuple[Any, ...]]:
    hub = HubProcessor(world.party("csc-mash"), TOPICS, HubMetrics(CollectorRegistry(), "csc-mash"))
    with store.transaction() as tx:
        hub(Record(TOPICS.release("csc-mash"), 0, 0, R.encode(), value), tx)
    rows = store.conn.execute("SELECT category, agency, status, reason FROM sections ORDER BY category")
    return list(rows)


@pytest.mark.parametrize("retire", ["SUPERSEDED", "CESSATION_OF_OPERATION"])
async def test_a_rebuild_keeps_an_agency_contribution_after_its_keys_are_rotated_or_retired(
    world: World, store: Store, retire: str
) -> None:
    release = _release(world)
    if retire == "SUPERSEDED":
        world.rotate("police.devon")
    else:  # the agency leaves: no current key at all
        world.publish("police.devon", revoked=True, reason=retire)
    assert _consume(world, store, release) == [
        ("contact", "police", "WITHHELD", "WITHHOLD: not at screening"),
        ("identity", "police", "RELEASED", None),
    ]


async def test_the_hub_refuses_a_withheld_notice_the_broker_did_not_stamp(world: World, store: Store) -> None:
    schema = world.registry.latest(ENVELOPE)
    env = world.registry.decode(_release(world), schema)
    env["sections"][0]["withheld"] = {"reason": "WITHHOLD: forged", "rule_id": "R-X"}  # beside its data
    with pytest.raises(ForgedWithheld):
        _consume(world, store, world.registry.encode(schema, env))
    assert store.conn.execute("SELECT count(*) FROM sections").fetchone() == (0,)
