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

import pytest

from connectors.sdk.app import run
from connectors.sdk.base import category_of
from devkit.testkit.broker import write_keys
from devkit.testkit.town import AGENCIES, deploy_config, health_api, held
from devkit.testkit.wire import make_world
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import read_to_end
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros
from services.hub.intake import ASKS
from tests.integration.connectors.connkit import identity
from tests.integration.kafkautil import eventually
from town import generate
from town.schema import list_field
from town.variants import typo

TODAY = date.today()


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
    pid = f"{agency}.devon"
    world = make_world(registry)
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
    async with Producer(kafka) as producer:
        for key, value in world.records:
            await producer.send_and_wait(topics.keys, value, key=key)

    # The first given name mistyped: not the spelling the agency holds, nor any it could hold exactly.
    first, *rest = subject.given_names.split()
    given = " ".join([typo(random.Random(7), first), *rest])
    assert given != subject.given_names
    categories = [
        "identity",
        "contact",
        *ASKS[agency],
        *(["victim_safe_contact"] if agency == "police" else []),
    ]
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
        sections=[SectionInput("identity", identity("S1", given, subject.family_name, subject.dob))],
        recipients=[pid],
    )

    stop = asyncio.Event()
    task = asyncio.create_task(run(config, stop))
    try:
        async with Producer(kafka) as producer:
            await producer.send_and_wait(topics.enquiries, enquiry, key=b"R-1")
        returns: list = []  # type: ignore[type-arg]

        async def answered() -> bool:
            returns[:] = await read_to_end(kafka, topics.intel(agency))
            return bool(returns)

        await eventually(answered, what=f"a return from the {agency} connector")
    finally:
        stop.set()
        await task

    (record,) = returns
    assert subject.family_name.encode() not in (record.value or b""), "no plaintext on the topic"
    opened = world.party("broker").open(record.value, record.key)
    assert opened.sender == pid
    (match,) = opened.body["matches"]
    assert match["method"] == "PROBABILISTIC", "matched on the name variant and date of birth"
    assert match["confidence"] > 0.5
    assert opened.body["nothing_held_categories"] == sorted(
        c for c in categories if c not in {"identity", "contact"} | {category_of(k) for k in subject.holds}
    )
    names = opened.section("identity", "S1")
    assert names is not None
    assert names.payload is not None
    assert names.payload["names"][0]["given_names"] == subject.given_names, (
        "the agency's own spelling comes back"
    )
    contact = opened.section("contact", "S1")
    assert contact is not None
    assert contact.payload is not None
    assert contact.payload["contacts"][0]["known"] is True
    for key, rows in subject.holds.items():
        section = opened.section(category_of(key), "S1")
        assert section is not None, f"{key}: no section"
        assert section.payload is not None, f"{key}: sealed section not opened"
        assert len(section.payload[list_field(key)]) == rows, key
