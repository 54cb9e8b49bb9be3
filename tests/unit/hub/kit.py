"""What the hub's unit tests share: a world with the front door's hub, the broker and the agencies; an
intake that records what it would publish; and releases built as the broker builds them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
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
from jigsaw.wire.framing import micros
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
    """A subscriber's hub consumer over a real store, fed releases one by one. With ``offsets``, each
    record's offset commits with it, as the transactional handler commits it (the hub's measures count
    a record's facts only once its offset is committed: ``settle``)."""

    def __init__(
        self,
        world: World,
        store: BaseStore,
        subscriber: str = "csc-mash",
        index: bool = True,
        offsets: bool = False,
        metrics: HubMetrics | None = None,
    ):
        self.store = store
        self.offsets = offsets
        if offsets:
            store.claim([(TOPICS.release(subscriber), 0)])
        self.persons = PersonIndex(b"k" * 32) if index else None
        self.hub = HubProcessor(
            world.party(subscriber),
            TOPICS,
            metrics or HubMetrics(CollectorRegistry(), subscriber),
            persons=self.persons,
        )
        self.offset = 0
        self.subscriber = subscriber

    def feed(
        self, rid: str, value: bytes, headers: tuple[tuple[str, bytes], ...] = (), timestamp_ms: int = 0
    ) -> None:
        record = Record(
            TOPICS.release(self.subscriber), 0, self.offset, rid.encode(), value, headers, timestamp_ms
        )
        self.offset += 1
        with self.store.transaction() as tx:
            self.hub(record, tx)
            if self.offsets:
                tx.set_offset(record.topic, record.partition, record.offset + 1)

    def settle(self) -> int:
        """What the loop does once the transaction has ended: count the committed records' measures."""
        return self.hub.settle()


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


# -- the measures' facts (tests/unit/hub/test_measures.py, tests/unit/test_report_cli.py) ----------------
def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """An instant in UTC; in November and December London keeps GMT, so it is local time too."""
    return micros(datetime(year, month, day, hour, minute, tzinfo=UTC))


def enquiry(
    tx: Any,
    rid: str,
    eid: str,
    agency: str,
    rag: str,
    sent: int,
    deadline: int,
    answers: tuple[int, ...] = (),
) -> None:
    body = {"enquiry_id": eid, "categories": ["identity"], "purpose": "TRIAGE", "rag": rag}
    hub_store.put_enquiry(tx, rid, agency, body, sent, deadline)
    for n, answered in enumerate(answers):
        hub_store.put_answer(tx, eid, f"m-{eid}-{n}", answered)


def fill(s: BaseStore) -> None:
    """November 2026's facts, whose measures test_measures.py and test_report_cli.py work out by hand."""
    with s.transaction() as tx:
        for rid, received in (
            ("R0", at(2026, 10, 31, 23, 30)),  # the day before the period
            ("R1", at(2026, 11, 2, 10)),  # Monday: due by the end of Tuesday
            ("R2", at(2026, 11, 6, 15)),  # Friday: due by the end of Monday
            ("R3", at(2026, 11, 11, 9, 30)),  # Wednesday: due by the end of Thursday
            ("R4", at(2026, 11, 30, 23, 59)),  # the last minute of the period: due by Tuesday 17:00
            ("R5", at(2026, 11, 20, 11)),  # Friday: due by the end of Monday, and not decided
            ("R6", at(2026, 12, 1, 0, 30)),  # after the period
        ):
            meta = {
                "source_type": "SCHOOL",
                "concerns": ["NEGLECT"],
                "rag": "AMBER",
                "subject_refs": [{"subject_ref": "S1", "role": "CHILD"}],
            }
            hub_store.put_referral(tx, rid, meta, received)
        for n, (rid, outcome, decided) in enumerate(
            (
                ("R1", "EARLY_HELP", at(2026, 11, 3, 16)),  # within
                ("R2", "STRATEGY_DISCUSSION_S47", at(2026, 11, 9, 12)),  # within
                ("R3", "NO_FURTHER_ACTION", at(2026, 11, 13, 10)),  # a day late
                ("R3", "CSC_ASSESSMENT_S17", at(2026, 11, 20, 10)),  # revisited: the latest outcome
                ("R6", "EARLY_HELP", at(2026, 12, 1, 10)),
            )
        ):
            body = {"decision_id": f"D{n}", "kind": "OUTCOME", "outcome": outcome, "reason": "r"}
            hub_store.put_decision(tx, rid, {**body, "decided_by": "Jo", "referrer_feedback": None}, decided)
        # Police, RED (4 working hours); health's with a day to answer.
        enquiry(tx, "R1", "E1", "police", "RED", at(2026, 11, 2, 10), at(2026, 11, 2, 14),
                 (at(2026, 11, 2, 15), at(2026, 11, 2, 12)))  # fmt: skip
        enquiry(tx, "R2", "E2", "police", "RED", at(2026, 11, 6, 15), at(2026, 11, 9, 11),
                 (at(2026, 11, 9, 10),))  # fmt: skip
        enquiry(tx, "R3", "E3", "police", "RED", at(2026, 11, 11, 9, 30), at(2026, 11, 11, 13, 30),
                 (at(2026, 11, 11, 15, 30),))  # fmt: skip
        enquiry(tx, "R4", "E4", "police", "RED", at(2026, 11, 30, 16), at(2026, 12, 1, 12))
        enquiry(tx, "R1", "E5", "health", "AMBER", at(2026, 11, 2, 10), at(2026, 11, 3, 10))
        enquiry(tx, "R0", "E6", "health", "AMBER", at(2026, 10, 30, 10), at(2026, 10, 30, 11))
        # The person index: R0 (before the period), R1 and R3 are about one child; R2 about another.
        for key, rid, received in (
            ("K1", "R0", at(2026, 10, 31, 23, 30)),
            ("K1", "R1", at(2026, 11, 2, 10)),
            ("K2", "R2", at(2026, 11, 6, 15)),
            ("K1", "R3", at(2026, 11, 11, 9, 30)),
        ):
            hub_store.put_person(tx, key, rid, "S1", "CHILD", received, False)
