"""What the hub's unit tests share: a world with the front door's hub, the broker and the agencies; an
intake that records what it would publish; and releases built as the broker builds them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry

from devkit.testkit.wire import World, make_world
from jigsaw.bus.clients import Producer
from jigsaw.bus.pgstore import PgStore
from jigsaw.bus.records import Record
from jigsaw.bus.store import BaseStore, Store
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened, SectionInput, Withhold
from jigsaw.wire.release import ReleaseDetails
from jigsaw.workhours import WorkingHours
from services.hub import store as hub_store
from services.hub.consumer import HubProcessor
from services.hub.intake import Intake
from services.hub.metrics import HubMetrics
from services.hub.persons import PersonIndex
from services.hub.terms import load_terms

POLICY = Path("deploy/policy/devon-mash.yaml")
TOPICS = Topics()
AGENCIES = {
    "police": "police.devon",
    "health": "health.devon",
    "education": "education.devon",
    "probation": "probation.devon",
}
TIMESCALES = {"RED": 4.0, "AMBER": 24.0, "GREEN": 72.0}


def hub_world(registry: SchemaRegistry) -> World:
    world = make_world(registry)
    world.add("hub.devon", "HUB")
    world.add("education.devon", "AGENCY_CONNECTOR", "education")
    world.add("probation.devon", "AGENCY_CONNECTOR", "probation")
    return world


class Sent:
    """Stands in for the producer: keeps what the intake sends, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes | None]] = []

    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> None:
        self.records.append((topic, value, key))

    def opened(self, world: World, topic: str, reader: str) -> list[Opened]:
        """Each record sent to ``topic`` that ``reader`` can open, opened."""
        out = []
        for t, value, key in self.records:
            if t != topic:
                continue
            party = world.party(reader)
            if reader in {
                w["recipient"] for s in party.verify(value, key).sections for w in s["wrapped_keys"]
            }:
                out.append(party.open(value, key))
        return out


def intake(world: World, sent: Sent, *, clock: WorkingHours | None = None, terms: bool = True) -> Intake:
    return Intake(
        world.party("hub.devon"),
        _as_producer(sent),
        TOPICS,
        AGENCIES,
        TIMESCALES,
        terms=load_terms(POLICY) if terms else None,
        clock=clock,
    )


def _as_producer(sent: Sent) -> Producer:
    return cast(Producer, sent)  # the intake only awaits send_and_wait


def release(
    world: World,
    value: bytes,
    rid: str,
    subscriber: str = "csc-mash",
    withheld: dict[tuple[str, str], Withhold] | None = None,
    decision: str | None = None,
    late: bool = False,
) -> bytes:
    """What the broker sends ``subscriber`` of a message sealed to it (each a release of its own id)."""
    broker = world.party("broker")
    return broker.rekey(
        broker.verify(value, rid.encode()),
        subscriber,
        withheld or {},
        decision_id=decision or str(uuid.uuid4()),
        policy_version="v1",
        details=ReleaseDetails(late=late) if late else None,
    )


def seal(
    world: World, sender: str, kind: str, rid: str, body: dict[str, Any], sections: list[SectionInput]
) -> bytes:
    return world.party(sender).seal(
        kind=kind, referral_id=rid, body=body, sections=sections, recipients=["broker"]
    )


class Consumer:
    """A subscriber's hub consumer over a real store, fed releases one by one."""

    def __init__(self, world: World, store: Store, subscriber: str = "csc-mash", index: bool = True):
        self.store = store
        self.persons = PersonIndex(b"k" * 32) if index else None
        self.hub = HubProcessor(
            world.party(subscriber),
            TOPICS,
            HubMetrics(CollectorRegistry(), subscriber),
            persons=self.persons,
        )
        self.offset = 0
        self.subscriber = subscriber

    def feed(self, rid: str, value: bytes, headers: tuple[tuple[str, bytes], ...] = ()) -> None:
        record = Record(TOPICS.release(self.subscriber), 0, self.offset, rid.encode(), value, headers)
        self.offset += 1
        with self.store.transaction() as tx:
            self.hub(record, tx)


# Set by the ``store_backend`` fixture (tests/unit/hub/conftest.py): a PostgreSQL URL, and the stores
# opened on it, to drop after the test.
PG: dict[str, Any] = {"url": None, "opened": []}


def open_store(path: Path) -> BaseStore:
    """The hub's case store at ``path``, or, under ``store_backend``'s postgresql case, a fresh schema."""
    s: BaseStore
    if PG["url"] is None:
        s = Store(path, hub_store.SCHEMA)
    else:
        s = PgStore(PG["url"], f"hub_{uuid.uuid4().hex[:12]}", hub_store.SCHEMA)
        PG["opened"].append(s)
    s.open()
    return s
