"""The deployment every benchmark runs: participants and keystores, topics, and the records they carry.

Key material comes from the test kits (``devkit.testkit.broker``), as ``python -m bench.broker`` does; the
payloads are synthetic and contain no real person's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from devkit.localkafka import client_for
from devkit.testkit.broker import PASSPHRASE, POLICY, referral_body, setup_world, write_keys
from devkit.testkit.wire import World
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.config import KafkaSettings, KeystoreSettings
from jigsaw.service_env import service_env
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros
from services.broker.policy import load_policy

REPO = Path(__file__).resolve().parents[2]
SUBSCRIBERS = ("csc-mash", "police-mash", "health-mash", "partner-hub")
HUB_SUBSCRIBER = "csc-mash"  # the decision makers: the hub whose view the end-to-end latency is measured at
CONNECTOR = "police.devon"
PARTITIONS = 3
KEYS_FOR = ("broker", "hub.devon", CONNECTOR, *SUBSCRIBERS)
_DAY = date(2026, 10, 1)


def new_prefix(what: str) -> str:
    """A topic prefix of its own for each run and step, so no run ever reads another's records."""
    return f"bench-{what}-{uuid.uuid4().hex[:8]}"


def kafka_settings(bootstrap: str, prefix: str) -> KafkaSettings:
    return client_for(bootstrap, topic_prefix=prefix, client_id=prefix)


@dataclass
class Deployment:
    world: World
    keys: KeystoreSettings
    policy: Path

    @property
    def agencies(self) -> list[str]:
        policy = load_policy(self.policy)
        return sorted({p.agency for p in policy.participants.values() if p.agency})

    @property
    def subscribers(self) -> list[str]:
        return list(load_policy(self.policy).subscribers)

    def service_env(
        self, service: str, kafka: KafkaSettings, state_dir: Path, **values: object
    ) -> dict[str, str]:
        """``JIGSAW_<SERVICE>__*`` for a service of this deployment (its Kafka, keys, policy, state and
        partitions, and ``values``). Its client id and consumer group are ``<topic prefix>-<service>``, so
        each step's processes are told apart on the broker."""
        name = f"{kafka.topic_prefix}-{service}"
        common: dict[str, object] = {
            "kafka": kafka.model_copy(update={"client_id": name}),
            "keys": self.keys,
            "policy": self.policy,
            "state_dir": state_dir,
            "consumer": {"group_id": name},
            "partitions": PARTITIONS,
        }
        return service_env(f"JIGSAW_{service.upper()}__", common | values)


def make_deployment(registry: SchemaRegistry, keys_dir: Path, policy: Path = POLICY) -> Deployment:
    """Every participant of ``policy`` with fresh keys; keystores written for those the processes load."""
    world = setup_world(registry, policy)
    wanted = [p for p in KEYS_FOR if p in world.keys]
    wanted += [s for s in load_policy(policy).subscribers if s not in wanted]
    return Deployment(world, write_keys(world, keys_dir, *wanted), policy)


def passphrase() -> str:
    return PASSPHRASE


def intel_sections(n: int) -> list[SectionInput]:
    """Three sections (identity, police incidents, contact) that seal to about 1.5 KB for the broker."""
    ref = "S1"
    identity = {
        "subject_ref": ref,
        "names": [
            {
                "kind": "FACT",
                "source": "PNC",
                "recorded_on": _DAY,
                "name_type": "LEGAL",
                "given_names": "Synthetic",
                "family_name": f"Subject-{n % 997:03d}",
            }
        ],
        "details": [
            {
                "kind": "FACT",
                "source": "PNC",
                "recorded_on": _DAY,
                "date_of_birth": date(2014, 3, 2) + timedelta(days=n % 365),
                "dob_estimated": False,
                "unborn": False,
                "gender": "NOT_STATED",
            }
        ],
    }
    incident = {
        "kind": "ALLEGATION",
        "source": "Niche RMS",
        "recorded_on": _DAY,
        "incident_type": "Domestic incident",
        "subject_role": "WITNESS",
        "domestic_abuse": True,
        "child_present": True,
        "ppn_submitted": True,
        "summary": "Synthetic incident summary for the benchmark; officers attended and made a referral.",
    }
    incidents = {
        "subject_ref": ref,
        "incidents": [
            {**incident, "incident_ref": f"INC-{n}-{i}", "incident_date": _DAY - timedelta(days=7 * i)}
            for i in range(3)
        ],
    }
    contact = {
        "subject_ref": ref,
        "contacts": [
            {
                "kind": "FACT",
                "source": "Niche RMS",
                "recorded_on": _DAY,
                "known": True,
                "agency": CONNECTOR,
                "contact_team": "MASH police desk, 0300 000 0000",
            }
        ],
    }
    return [
        SectionInput("identity", identity),
        SectionInput("police_incidents", incidents),
        SectionInput("contact", contact),
    ]


def intel_body() -> dict[str, Any]:
    return {
        "enquiry_id": None,
        "agency": "police",
        "unsolicited": True,
        "connector_version": "bench",
        "matches": [
            {"subject_ref": "S1", "method": "EXACT_PNC", "confidence": 1.0, "source_record_count": 3}
        ],
        "nothing_held_categories": [],
    }


def pool_ids(prefix: str, n: int) -> list[str]:
    """The referrals a run's returns are about. Each gets several returns, in order, like a real case."""
    return [f"R-{uuid.uuid5(uuid.NAMESPACE_URL, f'{prefix}/{i}').hex}" for i in range(n)]


async def create_topics(kafka: KafkaSettings, topics: Topics, deployment: Deployment) -> None:
    await ensure_topics(kafka, topics.specs(deployment.agencies, deployment.subscribers, PARTITIONS))


async def publish_setup(
    kafka: KafkaSettings,
    topics: Topics,
    deployment: Deployment,
    referrals: Sequence[str],
    subscribers: Sequence[str] = SUBSCRIBERS,
) -> int:
    """The key directory, then for each referral the referral itself, rated RED (so what is shared is
    decided for triage, not screening), and the hub's assignment of ``subscribers``. Returns how many
    setup records were sent."""
    hub = deployment.world.party("hub.devon")
    sent = 0
    async with Producer(kafka) as producer:
        for key, value in deployment.world.records:
            await producer.send(topics.keys, value, key=key)
        for rid in referrals:
            now = now_micros()
            assign = {
                "subscribers": list(subscribers),
                "action": "ASSIGN",
                "assigned_by": "bench",
                "assigned_at": now,
            }
            # The referral itself, rated RED: nothing is released before a referral arrives.
            referral = referral_body("RED")
            for kind, topic, body in (
                ("REFERRAL", topics.referrals, referral),
                ("ASSIGNMENT", topics.assignments, assign),
            ):
                value = hub.seal(kind=kind, referral_id=rid, body=body, sections=[], recipients=["broker"])
                await producer.send(topic, value, key=rid.encode())
                sent += 1
        await producer.flush()
    return sent


async def drop_topics(kafka: KafkaSettings, prefix: str) -> None:
    """Delete a finished run's topics, so repeated runs do not pile up on the local Kafka."""
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
