"""The measures a MASH is judged by (docs/measures.md): counted as metrics when the hub learns each fact,
once per store however often a record is replayed, and computed for a period from the store's facts
(``jigsaw report``), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from devkit.testkit.wire import World, incidents, intel_body
from jigsaw.bus.records import Record
from jigsaw.bus.store import BaseStore, Conn
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput, Withhold
from jigsaw.wire.framing import micros, now_micros
from jigsaw.workhours import WorkingHours
from services.hub import store as hub_store
from services.hub.api import Broadcast, create_app
from services.hub.config import ApiToken, token_hash
from services.hub.measures import measures, percentile, working_hours_between
from services.hub.metrics import HubMetrics
from services.hub.subjects import SubjectIn
from tests.unit.hub.kit import (
    TOPICS,
    Consumer,
    Sent,
    at,
    enquiry,
    fill,
    hub_world,
    intake,
    open_store,
    release,
    seal,
)

pytestmark = pytest.mark.usefixtures("store_backend")

SUB = "csc-mash"
NHS = "9434765919"  # valid by modulus 11
CHILD = SubjectIn("S1", "CHILD", "Callum", "Hartley", date(2014, 3, 2), nhs=NHS)
HOUR = 3_600_000_000
ELSEWHERE = Withhold("WITHHOLD: addressed to another agency", "SYS-ADDRESSED-ELSEWHERE")


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return hub_world(registry)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BaseStore]:
    s = open_store(tmp_path / "hub.sqlite")
    yield s
    s.close()


class Seen:
    """The hub's metrics as a scrape reads them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = HubMetrics(self.registry, SUB)

    def __call__(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {"subscriber": SUB, **labels}) or 0.0


def _referral(world: World, rid: str, received: int) -> bytes:
    body = {
        "source_type": "SCHOOL",
        "rag": "RED",
        "received_at": received,
        "concerns": ["NEGLECT"],
        "subject_refs": [CHILD.ref()],
        "existing_social_worker": False,
    }
    return seal(world, "hub.devon", "REFERRAL", rid, body, CHILD.sections())


def _rid(n: int) -> str:
    return f"R-{n:032x}"


# -- counted as the hub learns each fact ---------------------------------------------------------------
async def test_each_referral_counts_once_and_a_re_referral_says_so(world: World, store: BaseStore) -> None:
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    first = release(world, _referral(world, _rid(1), micros(datetime(2026, 1, 10, tzinfo=UTC))), _rid(1))
    hub.feed(_rid(1), first)
    hub.feed(_rid(1), first)  # the same release delivered twice: a duplicate, dropped
    # The same message released again under a new release id (the broker re-decided a section).
    hub.feed(_rid(1), release(world, _referral(world, _rid(1), 0), _rid(1)))
    again = _referral(world, _rid(2), micros(datetime(2026, 11, 30, tzinfo=UTC)))
    hub.feed(_rid(2), release(world, again, _rid(2)))
    assert hub.settle() == 2
    assert seen("jigsaw_hub_referrals_total", re_referral="no") == 1
    assert seen("jigsaw_hub_referrals_total", re_referral="yes") == 1


async def test_a_hub_without_the_person_index_counts_no_referrals(world: World, store: BaseStore) -> None:
    """Only the front door keeps the index that says whether a referral is a re-referral."""
    seen = Seen()
    hub = Consumer(world, store, index=False, offsets=True, metrics=seen.metrics)
    hub.feed(_rid(1), release(world, _referral(world, _rid(1), now_micros()), _rid(1)))
    hub.settle()
    assert seen("jigsaw_hub_referrals_total", re_referral="no") == 0


async def test_the_first_outcome_is_a_decision_once_within_a_working_day_or_not(
    world: World, store: BaseStore
) -> None:
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    sent = Sent()
    mash = intake(world, sent)
    now = now_micros()
    hub.feed(_rid(1), release(world, _referral(world, _rid(1), now - HOUR), _rid(1)))
    hub.feed(_rid(2), release(world, _referral(world, _rid(2), now - 30 * 24 * HOUR), _rid(2)))
    await mash.decide(_rid(1), "EARLY_HELP", "r", "Jo", None)
    await mash.decide(_rid(2), "NO_FURTHER_ACTION", "r", "Jo", None)
    await mash.decide(_rid(1), "CSC_ASSESSMENT_S17", "revisited", "Jo", None)  # not a second decision
    for (_, value, key), rid in zip(sent.records, (_rid(1), _rid(2), _rid(1)), strict=True):
        assert key == rid.encode()
        released = release(world, value, rid)
        hub.feed(rid, released)
        hub.feed(rid, released)  # replayed
        hub.feed(rid, release(world, value, rid))  # released again
    hub.settle()
    assert seen("jigsaw_hub_contacts_decided_total", within_one_working_day="yes") == 1
    assert seen("jigsaw_hub_contacts_decided_total", within_one_working_day="no") == 1
    assert seen("jigsaw_hub_time_to_decision_seconds_count") == 2
    early = {"route": "early_help", "outcome": "EARLY_HELP"}
    assert seen("jigsaw_hub_outcomes_total", **early) == 1
    assert seen("jigsaw_hub_outcomes_total", route="childrens_social_care", outcome="CSC_ASSESSMENT_S17") == 1


async def test_an_outcome_released_before_its_referral_is_decided_when_the_referral_comes(
    world: World, store: BaseStore
) -> None:
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    sent = Sent()
    await intake(world, sent).decide(_rid(1), "EARLY_HELP", "r", "Jo", None)
    hub.feed(_rid(1), release(world, sent.records[0][1], _rid(1)))
    hub.settle()
    assert seen("jigsaw_hub_contacts_decided_total", within_one_working_day="yes") == 0
    hub.feed(_rid(1), release(world, _referral(world, _rid(1), now_micros() - HOUR), _rid(1)))
    hub.settle()
    assert seen("jigsaw_hub_contacts_decided_total", within_one_working_day="yes") == 1


def _answer(world: World, rid: str, eid: str) -> bytes:
    body = {**intel_body(), "enquiry_id": eid}
    value = seal(world, "police.devon", "INTEL", rid, body, [SectionInput("police_incidents", incidents())])
    return release(world, value, rid)


async def test_an_enquirys_first_answer_is_its_response_once(world: World, store: BaseStore) -> None:
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    sent = Sent()
    rid, (asked,) = await intake(world, sent).open_referral(
        subjects=[CHILD], concerns=["NEGLECT"], source_type="SCHOOL", rag="RED", summary="s",
        referrer=None, agencies=["police"],
    )  # fmt: skip
    eid = asked["enquiry_id"]
    answered = _answer(world, rid, eid)
    hub.feed(rid, answered)  # the return released before the enquiry: not yet a response
    hub.settle()
    assert seen("jigsaw_hub_enquiry_responses_total", agency="police", on_time="yes") == 0
    for topic, value, _ in sent.records:
        # An enquiry's sections are sealed to the agency asked: the broker's stamp withholds them.
        elsewhere = {} if topic != TOPICS.enquiries else {("identity", "S1"): ELSEWHERE}
        released = release(world, value, rid, withheld=elsewhere)
        hub.feed(rid, released)
        hub.feed(rid, released)
        hub.feed(rid, release(world, value, rid, withheld=elsewhere))
    hub.feed(rid, answered)  # replayed
    hub.feed(rid, _answer(world, rid, eid))  # a second return answering it: not a second response
    hub.settle()
    assert seen("jigsaw_hub_enquiry_responses_total", agency="police", on_time="yes") == 1
    assert seen("jigsaw_hub_enquiry_responses_total", agency="police", on_time="no") == 0
    assert seen("jigsaw_hub_enquiry_response_seconds_count", agency="police") == 1


async def test_a_batch_rolled_back_counts_nothing_and_its_retry_counts_once(
    world: World, store: BaseStore
) -> None:
    """The consumer commits a batch at once; one that fails is applied again from its start."""
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    value = release(world, _referral(world, _rid(1), now_micros()), _rid(1))
    with pytest.raises(RuntimeError):
        _fails_before_its_commit(hub, store, value)
    assert hub.settle() == 0
    hub.feed(_rid(1), value)  # the retry, at the same offset
    await asyncio.sleep(0)  # the loop settles after the transaction, as the live consumer does
    assert seen("jigsaw_hub_referrals_total", re_referral="no") == 1
    hub.feed(_rid(1), value)
    assert hub.settle() == 0


def _fails_before_its_commit(hub: Consumer, store: BaseStore, value: bytes) -> None:
    with store.transaction() as tx:
        hub.hub(Record(TOPICS.release(SUB), 0, 0, _rid(1).encode(), value, ()), tx)
        tx.set_offset(TOPICS.release(SUB), 0, 1)
        raise RuntimeError("the store failed before the commit")


# -- the enquiry gauges --------------------------------------------------------------------------------
async def test_cases_and_outstanding_and_breached_enquiries_by_rag(store: BaseStore) -> None:
    now = at(2026, 11, 10, 12)
    with store.transaction() as tx:
        enquiry(tx, "R1", "E1", "police", "RED", now - 5 * HOUR, now - HOUR)  # outstanding, breached
        enquiry(tx, "R1", "E2", "health", "RED", now - 5 * HOUR, now + HOUR)  # outstanding, not yet due
        enquiry(tx, "R2", "E3", "police", "AMBER", now - 5 * HOUR, now - HOUR, (now - 2 * HOUR,))
        enquiry(tx, "R2", "E4", "police", "AMBER", now - 5 * HOUR, now - 4 * HOUR, (now,))  # answered late
        enquiry(tx, "R3", "E5", "education", "UNKNOWN", now - HOUR, now - 1)
        hub_store.touch_case(tx, "R1")  # a case known by its enquiries alone: not rated
    seen = Seen()
    seen.metrics.refresh_gauges(store.conn, now)
    expected = {"RED": (2, 1), "AMBER": (0, 0), "GREEN": (0, 0), "UNKNOWN": (1, 1)}
    for rag, (outstanding, breached) in expected.items():
        assert seen("jigsaw_hub_enquiries_outstanding", rag=rag) == outstanding, rag
        assert seen("jigsaw_hub_breached_enquiries", rag=rag) == breached, rag
    assert (seen("jigsaw_hub_cases", rag="UNKNOWN"), seen("jigsaw_hub_cases", rag="RED")) == (1, 0)
    # Watched, each scrape asks the loop that owns the connection to refresh them.
    with store.transaction() as tx:
        enquiry(tx, "R4", "E6", "police", "GREEN", now, now + HOUR)
    seen.metrics.watch(store.conn, asyncio.get_running_loop())
    await asyncio.sleep(0)
    assert seen("jigsaw_hub_enquiries_outstanding", rag="GREEN") == 1
    # At most one refresh per interval, however often it is scraped; the next interval's scrape sees more.
    with store.transaction() as tx:
        enquiry(tx, "R5", "E7", "health", "GREEN", now, now + HOUR)
    list(seen.registry.collect())  # a scrape
    await asyncio.sleep(0)
    assert seen("jigsaw_hub_enquiries_outstanding", rag="GREEN") == 1
    seen.metrics._next_refresh = 0.0  # the interval has passed
    list(seen.registry.collect())
    await asyncio.sleep(0)
    assert seen("jigsaw_hub_enquiries_outstanding", rag="GREEN") == 2


# -- every API request, by route template and status ---------------------------------------------------
async def test_every_api_request_is_counted_by_route_template(store: BaseStore) -> None:
    seen = Seen()
    tokens = {"dash": ApiToken(subscriber=SUB, sha256=token_hash("reader-token"))}
    app = create_app(
        subscriber=SUB, tokens=tokens, db=store.conn, intake=None, broadcast=Broadcast(),
        subscribers=[SUB], metrics=seen.metrics,
    )  # fmt: skip
    auth = {"Authorization": "Bearer reader-token"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hub") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/cases", headers=auth)).status_code == 200
        assert (await client.get(f"/cases/{_rid(7)}", headers=auth)).status_code == 404
        assert (await client.get(f"/cases/{_rid(8)}")).status_code == 401
        assert (await client.get("/no/such/path")).status_code == 404
    assert seen("jigsaw_hub_api_requests_total", route="/health", status="200") == 1
    assert seen("jigsaw_hub_api_requests_total", route="/cases", status="200") == 1
    assert seen("jigsaw_hub_api_requests_total", route="/cases/{referral_id}", status="404") == 1
    assert seen("jigsaw_hub_api_requests_total", route="/cases/{referral_id}", status="401") == 1
    assert seen("jigsaw_hub_api_requests_total", route="other", status="404") == 1
    # Refusals are still counted apart, as before.
    assert seen("jigsaw_hub_api_refusals_total", route="/cases/{referral_id}", status="401") == 1


# -- `jigsaw report`'s measures, from the store --------------------------------------------------------
NOW = at(2026, 12, 1, 11)  # Tuesday 11:00: R4 and E4 are not yet due


def _measures(conn: Conn, **kwargs: Any) -> Any:
    return measures(conn, SUB, date(2026, 11, 1), date(2026, 11, 30), NOW, WorkingHours(), **kwargs)


def test_the_measures_of_a_period(store: BaseStore) -> None:
    fill(store)  # November 2026 (kit.fill), worked out by hand below
    reader = store.reader()
    try:
        m = _measures(reader)
        clock_hours = _measures(reader, responses_in_working_hours=False)
    finally:
        reader.close()
    c = m.contacts
    # R1 to R5; R1 and R2 decided in time, R3 a day late; R4 not yet due, R5 overdue.
    assert (c.received, c.decided, c.within_one_working_day, c.awaiting) == (5, 3, 2, 1)
    assert m.split.decided == 3
    assert m.split.by_route == {
        "childrens_social_care": 2,  # R2 (s47) and R3 (its latest, s17)
        "early_help": 1,
        "no_further_action": 0,
        "single_agency": 0,
        "transfer_out": 0,
    }
    health, police = m.responses
    # E1 answered at 12:00 (2 working hours), E2 over the weekend (Friday 15-17, Monday 9-10: 3), E3 late
    # (6); E4 not due.
    assert (police.agency, police.sent, police.answered, police.on_time, police.late, police.pending) == (
        "police", 4, 3, 2, 1, 1,
    )  # fmt: skip
    assert (police.median, police.p90) == (3.0, 6.0)
    assert (health.sent, health.answered, health.on_time, health.late, health.median) == (1, 0, 0, 1, None)
    # In clock hours: 2, 67 (Friday 15:00 to Monday 10:00) and 6.
    assert (clock_hours.unit, clock_hours.responses[1].median, clock_hours.responses[1].p90) == (
        "hours", 6.0, 67.0,
    )  # fmt: skip
    # R1 (after R0) and R3 (after R0 and R1) are re-referrals; R2, R4 and R5 are not.
    assert (m.referrals.received, m.referrals.re_referrals) == (5, 2)


def test_an_empty_period_and_a_store_without_the_person_index(store: BaseStore) -> None:
    fill(store)
    m = measures(store.conn, SUB, date(2025, 1, 1), date(2025, 1, 31), NOW)
    assert (m.contacts.received, m.split.decided, m.responses, m.referrals.received) == (0, 0, [], 0)
    with store.transaction() as tx:
        tx.execute("DELETE FROM person_index")
    assert _measures(store.conn).referrals.re_referrals is None


def test_working_hours_between_and_the_nearest_rank_percentile() -> None:
    clock = WorkingHours()
    assert working_hours_between(clock, at(2026, 11, 6, 15), at(2026, 11, 9, 10)) == 3.0
    assert working_hours_between(clock, at(2026, 11, 7, 10), at(2026, 11, 8, 10)) == 0.0  # a weekend
    assert working_hours_between(clock, at(2026, 12, 24, 16), at(2026, 12, 29, 10)) == 2.0  # bank holidays
    assert working_hours_between(clock, at(2026, 11, 9, 10), at(2026, 11, 6, 15)) == 0.0
    assert percentile([], 0.9) is None
    assert percentile([5.0, 1.0, 3.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


async def test_latency_from_creation_and_from_the_broker_s_release(world: World, store: BaseStore) -> None:
    """Two clocks: end to end from the message's created_at, and from the broker's release record's
    timestamp (here 5 s before the message's own creation, so the two cannot be mistaken for each other)."""
    seen = Seen()
    hub = Consumer(world, store, offsets=True, metrics=seen.metrics)
    made = seal(
        world, "police.devon", "INTEL", _rid(9), intel_body(), [SectionInput("police_incidents", incidents())]
    )
    released_ms = now_micros() // 1000 - 5_000  # 5 s ago
    hub.feed(_rid(9), release(world, made, _rid(9)), timestamp_ms=released_ms)
    assert seen("jigsaw_hub_end_to_end_seconds_count") == 1
    assert seen("jigsaw_hub_release_to_view_seconds_count") == 1
    assert seen("jigsaw_hub_end_to_end_seconds_sum") < 5
    assert 5 <= seen("jigsaw_hub_release_to_view_seconds_sum") < 10
