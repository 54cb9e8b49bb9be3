"""The seven reference connectors, each on its deploy config, over one small generated town, through the
real Kafka: an enquiry naming someone as the agency does not hold them gets a return with the subject
matched and a sealed section of each category the agency holds on them, which the broker's key opens."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sdk.app import run
from connectors.sdk.base import category_of
from connectors.sdk.config import ConnectorConfig
from devkit.testkit.broker import write_keys
from devkit.testkit.town import AGENCIES, deploy_config, health_api, held
from devkit.testkit.wire import World, make_world
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import read_to_end
from jigsaw.bus.records import Record
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened, OpenedSection, SectionInput
from jigsaw.wire.framing import now_micros
from services.hub.intake import ASKS
from tests.integration.connectors.connkit import identity
from tests.integration.kafkautil import eventually
from town import generate
from town.schema import list_field
from town.variants import typo

TODAY = date.today()


@dataclass(frozen=True)
class Answer:
    """An enquiry's answer as the broker opens it: the main return, then one per scoped contact held."""

    messages: list[Opened]

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.messages[0].body)

    @property
    def sections(self) -> list[OpenedSection]:
        return [s for m in self.messages for s in m.sections]

    def section(self, category: str, subject_ref: str) -> OpenedSection | None:
        found = (m.section(category, subject_ref) for m in self.messages)
        return next((s for s in found if s is not None), None)


@dataclass(frozen=True)
class Town:
    path: Path
    health_url: str
    seed: int


@dataclass(frozen=True)
class Known:
    source_id: str
    given_names: str  # as the agency holds them
    family_name: str
    dob: str
    holds: Counter[str]  # records key -> rows


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """A few dozen households; the first seed whose town gives every agency someone with records."""
    path = tmp_path_factory.mktemp("town")
    for seed in range(1, 40):
        generate(path, 60, seed, TODAY)
        if all(_with_records(path, agency) for agency in AGENCIES):
            break
    else:
        pytest.fail("no seed in 1-39 gave every agency someone with records")
    with health_api(path) as url:
        yield Town(path, url, seed)


def _with_records(town: Path, agency: str) -> list[Known]:
    """People the agency holds records on, most records keys first."""
    counts = held(town, agency)
    with sqlite3.connect(town / "town.sqlite") as conn:
        rows = conn.execute(
            "SELECT r.source_id, r.given_names, r.family_name, p.dob FROM agency_records r"
            " JOIN people p ON p.key = r.person WHERE r.agency = ? ORDER BY r.source_id",
            (agency,),
        ).fetchall()
    people = [
        Known(sid, given, family, dob, counts[sid]) for sid, given, family, dob in rows if counts.get(sid)
    ]
    return sorted(people, key=lambda k: (-len(k.holds), k.source_id))


@pytest.fixture
async def kafka_ready(kafka: KafkaSettings, topics: Topics) -> AsyncIterator[KafkaSettings]:
    await ensure_topics(kafka, topics.specs(list(AGENCIES), []))
    return kafka


def _config(
    agency: str, town: Town, kafka: KafkaSettings, topics: Topics, tmp_path: Path, world: World
) -> tuple[ConnectorConfig, World]:
    """The agency's deploy config over ``town``, with its keys in ``world`` (and the front door's)."""
    pid = f"{agency}.devon"
    world.add("hub.devon", "HUB")
    if pid not in world.keys:
        world.add(pid, "AGENCY_CONNECTOR", agency)
    config = deploy_config(
        agency,
        town.path,
        town.health_url,
        kafka=kafka,
        keys=write_keys(world, tmp_path / "keys", pid),
        metrics=MetricsSettings(port=0),
        state_dir=tmp_path / "state",
        consumer=ConsumerSettings(group_id=f"{topics.prefix}-{agency}", retry_backoff_s=0.05),
    )
    return config, world


async def _answer(
    config: ConnectorConfig,
    world: World,
    kafka: KafkaSettings,
    topics: Topics,
    subject: dict[str, Any],
    categories: list[str],
) -> tuple[list[Record], Answer]:
    """Run the connector, send it one enquiry from the front door about ``subject`` (S1), and return
    its answer (the main return, then one per scoped contact category held), raw and as the broker opens
    it."""
    pid, agency = config.participant_id, config.agency
    async with Producer(kafka) as producer:
        for key, value in world.records:
            await producer.send_and_wait(topics.keys, value, key=key)
    body = {
        "enquiry_id": str(uuid.uuid4()),
        "addressed_agencies": [pid],
        "subject_refs": ["S1"],
        "categories": categories,
        "purpose": "TRIAGE",
        "lawful_basis": "DPA 2018 Sch 1 para 18",
        "legal_reason": "Children Act s47",
        "isa_ref": "ISA",
        "rag": "AMBER",
        "deadline": now_micros(),
        "requested_by": "mash",
    }
    enquiry = world.party("hub.devon").seal(
        kind="ENQUIRY",
        referral_id="R-1",
        body=body,
        sections=[SectionInput("identity", subject)],
        recipients=[pid],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run(config, stop))
    returns: list[Record] = []
    try:
        async with Producer(kafka) as producer:
            await producer.send_and_wait(topics.enquiries, enquiry, key=b"R-1")

        async def answered() -> bool:
            returns[:] = await read_to_end(kafka, topics.intel(agency))
            return bool(returns)

        await eventually(answered, what=f"a return from the {agency} connector")
    finally:
        stop.set()
        await task
    # The answer's returns are queued together and a graceful stop drains the outbox: all are out now.
    returns[:] = await read_to_end(kafka, topics.intel(agency))
    broker = world.party("broker")
    return returns, Answer([broker.open(r.value or b"", r.key) for r in returns])


@pytest.mark.parametrize("agency", AGENCIES)
async def test_an_enquiry_with_a_name_variant_gets_the_agency_s_sealed_sections(
    agency: str,
    town: Town,
    kafka_ready: KafkaSettings,
    topics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
) -> None:
    kafka = kafka_ready
    subject = _with_records(town.path, agency)[0]
    config, world = _config(agency, town, kafka, topics, tmp_path, make_world(registry))
    # The first given name mistyped: not the spelling the agency holds, nor any it could hold exactly.
    first, *rest = subject.given_names.split()
    given = " ".join([typo(random.Random(7), first), *rest])
    assert given != subject.given_names
    # As the front door asks once a case is rated: its data, and every identifying category it publishes.
    identifying = sorted(c for c in config.categories() if c.startswith(("identifier_", "address")))
    categories = list(
        dict.fromkeys(
            [
                "identity",
                "contact",
                *identifying,
                *ASKS[agency],
                *(["victim_safe_contact"] if agency == "police" else []),
            ]
        )
    )
    records, opened = await _answer(
        config, world, kafka, topics, identity("S1", given, subject.family_name, subject.dob), categories
    )
    pid = config.participant_id
    for record in records:
        assert subject.family_name.encode() not in (record.value or b""), "no plaintext on the topic"
    main, *parts = opened.messages
    assert {m.sender for m in opened.messages} == {pid}
    # Each scoped contact in a return of its own, so that the broker can withhold it without naming it.
    assert not any(s.category.startswith("contact_") for s in main.sections)
    for scoped in parts:
        assert len({s.category for s in scoped.sections}) == 1
        assert all(s.category.startswith("contact_") for s in scoped.sections)
        assert scoped.body["enquiry_id"] == main.body["enquiry_id"]
        assert scoped.body["nothing_held_categories"] == []
    (match,) = opened.body["matches"]
    assert match["method"] == "PROBABILISTIC", "matched on the name variant and date of birth"
    assert match["confidence"] > 0.5
    emitted = {s.category for s in opened.sections}
    assert opened.body["nothing_held_categories"] == sorted(
        c
        for c in categories
        if c not in {"identity", "contact"} | {category_of(k) for k in subject.holds} | emitted
    )
    names = opened.section("identity", "S1")
    assert names is not None
    assert names.payload is not None
    assert names.payload["names"][0]["given_names"] == subject.given_names, (
        "the agency's own spelling comes back"
    )
    # Identity v2: names and details only; each identifier scheme and the addresses in their own sections
    # (DOMAIN.md "Identifiers by scheme": the UPN is for education use only, the NHS number for health and
    # care, the PNC ID for police and probation).
    assert set(names.payload) == {"subject_ref", "names", "details", "relationships"}
    address = opened.section("address", "S1")
    assert address is not None
    assert address.payload is not None
    assert address.payload["addresses"], "everyone's address, in its own section"
    schemes = {"identifier_nhs": {"NHS"}, "identifier_upn": {"UPN"}, "identifier_pnc": {"PNC"}}
    for part in opened.sections:
        if part.category.startswith("identifier_"):
            assert part.payload is not None
            found = {i["scheme"] for i in part.payload["identifiers"]}
            assert found <= schemes.get(part.category, {"NI", "COUNCIL_ID", "YOT_ID", "OTHER"})
    assert emitted <= config.categories(), "only what deploy/policy publishes for this participant"
    # The screening answer: plain, or for probation and youth justice (whose every contact reveals their
    # own fact) their scoped contact; either way the person is known.
    answer = {"probation": "contact_probation", "youthjustice": "contact_youth_justice"}.get(
        agency, "contact"
    )
    contact = opened.section(answer, "S1")
    assert contact is not None
    assert contact.payload is not None
    assert contact.payload["contacts"][0]["known"] is True
    if answer != "contact":
        assert opened.section("contact", "S1") is None
    assert isinstance(opened.body["confidential_addresses"], list)
    # MARAC and IDVA practice: the victim's safe contact is never released; DomesticAbuse v2 cannot carry it.
    abuse = opened.section("domestic_abuse", "S1")
    for case in (abuse.payload or {}).get("cases", []) if abuse is not None else []:
        assert "victim_safe_contact" not in case
    for key, rows in subject.holds.items():
        section = opened.section(category_of(key), "S1")
        assert section is not None, f"{key}: no section"
        assert section.payload is not None, f"{key}: sealed section not opened"
        assert len(section.payload[list_field(key)]) == rows, key


@pytest.fixture(scope="module")
def refuge_town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """A town with a household that has fled to a refuge: the first seed that gives one."""
    path = tmp_path_factory.mktemp("refuge")
    for seed in range(1, 20):
        generate(path, 2000, seed, TODAY)
        if _fled(path):
            break
    else:
        pytest.fail("no seed in 1-19 gave a household in a refuge")
    with health_api(path) as url:
        yield Town(path, url, seed)


def _fled(town: Path) -> list[tuple[str, str, str, str]]:
    """Each marked person of a refuge household: (key, given names, family name, dob)."""
    with sqlite3.connect(town / "town.sqlite") as conn:
        return conn.execute(
            "SELECT p.key, p.given_names, p.family_name, p.dob FROM people p"
            " JOIN households h ON h.key = p.household"
            " WHERE p.confidential_address = 1 AND h.confidential = 1 ORDER BY p.key"
        ).fetchall()


@pytest.mark.parametrize(("agency", "scope"), [("health", "PERSON"), ("housing", "ADDRESS")])
async def test_a_fled_victim_s_marker_is_set_on_the_return_whatever_was_asked(
    agency: str,
    scope: str,
    refuge_town: Town,
    kafka_ready: KafkaSettings,
    topics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
) -> None:
    # DOMAIN.md "Victims who have fled": health records carry a "confidential address" marker on the
    # person; housing flags the refuge address. Each connector sets IntelReturn.v3 confidential_addresses
    # for the matched subject, even on a screening answer, so that the broker withholds the locating
    # details of every return about her.
    key, given, family, dob = _fled(refuge_town.path)[0]
    spelled = _spelling(refuge_town.path, agency, key) or (given, family)
    config, world = _config(agency, refuge_town, kafka_ready, topics, tmp_path, make_world(registry))
    _, opened = await _answer(
        config, world, kafka_ready, topics, identity("S1", *spelled, dob), ["identity", "contact"]
    )
    assert opened.body["matches"][0]["method"] != "NONE"
    assert opened.body["confidential_addresses"] == [{"subject_ref": "S1", "scope": scope}]
    assert opened.section("address", "S1") is None, "a screening answer carries no address at all"


def _spelling(town: Path, agency: str, key: str) -> tuple[str, str] | None:
    with sqlite3.connect(town / "town.sqlite") as conn:
        row = conn.execute(
            "SELECT given_names, family_name FROM agency_records WHERE person = ? AND agency = ?",
            (key, agency),
        ).fetchone()
    return None if row is None else (row[0], row[1])
