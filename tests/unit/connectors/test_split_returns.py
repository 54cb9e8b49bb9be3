"""An answer with scoped contacts as the broker receives it: the main return, and one return per scoped
contact category held, each with a stable id of its own. The broker cannot drop a section from a signed
message, so a scoped contact sent with the rest would reach a desk refused it as a withheld notice whose
label (``contact_mental_health``) is the very fact the desk may not know. For the same reason no return's
clear body names a scoped contact (or the victim's safe contact) as nothing held."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from connectors.police import PoliceConnector
from connectors.sdk.contacts import ContactRouting, PlainRoute, RevealRule
from connectors.sdk.returns import SCOPED_CONTACTS, Return
from jigsaw.bus.loop import call_handler
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.records import COMMIT, HEADER_MSG_ID, Record
from jigsaw.bus.store import Store
from jigsaw.ids import keyed_id
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry
from tests.unit.connectors.test_scoped_returns import ASKED, ROWS, Rig, _contact

ROUTING = ContactRouting(
    reveals=(
        RevealRule(category="police_intelligence", match=("MOSOVO",)),
        RevealRule(category="mental_health", match=("CAMHS",)),
    ),
    route=PlainRoute(contact_team="Police MASH liaison"),
)
MARKED_ROWS: dict[str, list[dict[str, Any]]] = {
    **ROWS,
    "contact": [*ROWS["contact"], _contact("CAMHS liaison", currently_open=True)],
}


@pytest.fixture
def rig(registry: SchemaRegistry, tmp_path: Path) -> Rig:
    return Rig(registry, tmp_path, PoliceConnector, MARKED_ROWS, ROUTING)


def _ids(rig: Rig, rid: bytes) -> list[str]:
    return [
        dict(r.headers)[HEADER_MSG_ID].decode()
        for r in rig.store.outbox_batch(100)
        if r.key == rid and r.topic == rig.topics.intel("police")
    ]


async def test_each_scoped_contact_category_travels_in_a_return_of_its_own(rig: Rig) -> None:
    enquiry: list[Record] = []
    answer = await rig.ask(ASKED, record=enquiry)
    main, *parts = answer.messages
    assert [{s.category for s in p.sections} for p in parts] == [
        {"contact_mental_health"},
        {"contact_police_intelligence"},
    ], "N scoped categories held: N returns besides the main one, one category each"
    main_categories = {s.category for s in main.sections}
    assert not main_categories & set(SCOPED_CONTACTS), "the main return names no scoped contact"
    assert {"identity", "contact", "police_convictions", "victim_safe_contact"} <= main_categories
    opened = rig.world.party("police.devon").verify(enquiry[0].value or b"", enquiry[0].key)
    assert main.msg_id == keyed_id(
        rig.world.party("police.devon").keys.id_secret, "return", opened.msg_id, "police.devon"
    ), "the main return's id is derived as before"
    for part in parts:
        assert part.sender == "police.devon"
        assert part.body["enquiry_id"] == main.body["enquiry_id"]
        assert part.body["matches"] == main.body["matches"]
        assert part.body["confidential_addresses"] == main.body["confidential_addresses"]
        assert part.body["nothing_held_categories"] == []
        assert part.body["unsolicited"] is False
    assert len({m.msg_id for m in answer.messages}) == 3
    assert rig.prom.get_sample_value("jigsaw_connector_returns_total", {"kind": "enquiry"}) == 1


async def test_a_re_run_of_the_enquiry_gives_the_same_ids(rig: Rig, tmp_path: Path) -> None:
    # A crash before the answer's transaction commits leaves nothing queued: the enquiry is handled again
    # from scratch, and must come out under the same ids (a consumer drops an exact duplicate by msg_id).
    enquiry: list[Record] = []
    await rig.ask(ASKED, record=enquiry)
    rid = enquiry[0].key or b""
    first = _ids(rig, rid)
    assert len(first) == 3

    assert await call_handler(rig.runtime, enquiry[0]) == COMMIT  # a redelivery: answered once already
    assert _ids(rig, rid) == first, "nothing queued twice"

    fresh = Store(tmp_path / "rerun.sqlite")
    fresh.open()
    rig.runtime.store = rig.store = fresh
    assert await call_handler(rig.runtime, enquiry[0]) == COMMIT
    assert _ids(rig, rid) == first, "the same ids, in the same order"


class _FailsOnce:
    """A stand-in producer that acknowledges every record but refuses the ``fail_at``th send once."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.sent: list[str] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: Any, *_: object
    ) -> asyncio.Future[None]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise KafkaError("broker not available")
        self.sent.append(dict(headers)[HEADER_MSG_ID].decode())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_an_answer_whose_second_send_failed_is_sent_again_without_duplicate_ids(rig: Rig) -> None:
    enquiry: list[Record] = []
    await rig.ask(ASKED, record=enquiry)
    queued = _ids(rig, enquiry[0].key or b"")
    producer = _FailsOnce(fail_at=2)
    outbox = OutboxPublisher(
        rig.store,
        producer,  # type: ignore[arg-type]
        KernelMetrics(CollectorRegistry(), "t"),
        backoff_s=0.01,
    )
    async with outbox:
        outbox.notify()
        for _ in range(200):
            if not rig.store.outbox_batch(100):
                break
            await asyncio.sleep(0.01)
    assert producer.calls > len(queued), "the failed send was retried"
    assert producer.sent == queued, "each id sent once, in order: the failed one and its successors again"
    # The enquiry redelivered after the crash queues nothing more: the answer is recorded as given.
    assert await call_handler(rig.runtime, enquiry[0]) == COMMIT
    assert rig.store.outbox_batch(100) == []


async def test_nothing_held_never_names_a_scoped_contact_nor_the_safe_contact(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    # Every desk reads the clear body: "asked minus held" would tell a desk refused contact_mental_health
    # that one is held, by its absence from the list.
    rows = {"identity.names": ROWS["identity.names"], "contact": [_contact("MASH police desk")]}
    rig = Rig(registry, tmp_path, PoliceConnector, rows, ROUTING)
    asked = ["contact", *SCOPED_CONTACTS, "victim_safe_contact", "police_incidents"]
    answer = await rig.ask(asked)
    assert len(answer.messages) == 1, "no scoped contact held: one return, as before"
    assert answer.body["nothing_held_categories"] == ["police_incidents"]

    held = await rig.ask(ASKED)
    for message in held.messages:
        named = set(message.body["nothing_held_categories"])
        assert not named & {*SCOPED_CONTACTS, "victim_safe_contact"}


def test_the_nothing_held_list_is_computed_over_the_other_categories_only() -> None:
    answer = Return(held={"contact_probation"})
    asked = ["contact", "contact_mental_health", "contact_probation", "victim_safe_contact", "probation"]
    assert answer.nothing_held(asked) == ["contact", "probation"]
