"""A broker running in process against the real Kafka, with every participant of the example policy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from devkit.testkit.waiting import eventually
from devkit.testkit.wire import World, make_world
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import end_offsets, read_to_end
from jigsaw.bus.stores import schema_name
from jigsaw.config import ConsumerSettings, KafkaSettings, KeystoreSettings, MetricsSettings, StoreSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened, SectionInput
from jigsaw.wire.framing import now_micros
from jigsaw.wire.keys import Keystore
from services.broker.app import run
from services.broker.config import BrokerSettings
from services.broker.policy import load_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "deploy" / "policy" / "devon-mash.yaml"
PASSPHRASE = "test-only-passphrase"
_KIND_TOPIC = {
    "REFERRAL": "referrals",
    "CONSENT": "consent",
    "ASSIGNMENT": "assignments",
    "DECISION": "decisions",
    "ENQUIRY": "enquiries",
}


def payload(subject: str = "S1") -> dict[str, Any]:
    """A valid payload for any category: Jigsaw's payload schemas default every list to empty."""
    return {"subject_ref": subject}


def sections(*categories: str, subject: str = "S1") -> list[SectionInput]:
    return [SectionInput(c, payload(subject)) for c in categories]


def referral_body(
    rag: str, subjects: Sequence[Mapping[str, Any]] = ({"subject_ref": "S1", "role": "CHILD"},), **fields: Any
) -> dict[str, Any]:
    """A Referral body as the front door sends it; ``fields`` add the v2 fields (referrer_type ...)."""
    return {
        "source_type": "POLICE",
        "rag": rag,
        "received_at": now_micros(),
        "concerns": ["NEGLECT"],
        "subject_refs": [dict(s) for s in subjects],
        "existing_social_worker": False,
        **fields,
    }


def consent_body(kind: str, *, scope: str = "EARLY_HELP_SERVICE", **fields: Any) -> dict[str, Any]:
    """A Consent body; ``fields`` add the v2 fields (subject_ref, party, gillick_competent, categories,
    services, ground) or override the v1 ones."""
    return {
        "consent_id": str(uuid.uuid4()),
        "kind": kind,
        "scope": scope,
        "family_informed": None,
        "not_informed_reason": None,
        "decided_by": None,
        "reason": None,
        "recorded_at": now_micros(),
        **fields,
    }


def decision_body(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "decision_id": str(uuid.uuid4()),
        "kind": kind,
        "rag_from": None,
        "rag_to": None,
        "outcome": None,
        "reason": "",
        "decided_by": "",
        "decided_at": now_micros(),
        "referrer_feedback": None,
        "review_target": None,
        **fields,
    }


def intel_body(
    agency: str,
    subjects: Sequence[str],
    confidence: float = 1.0,
    confidential_addresses: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    return {
        "enquiry_id": None,
        "agency": agency,
        "unsolicited": False,
        "connector_version": "test",
        "matches": [
            {
                "subject_ref": s,
                "method": "PROBABILISTIC" if confidence < 1 else "EXACT_NHS",
                "confidence": confidence,
                "source_record_count": 1,
            }
            for s in subjects
        ],
        "nothing_held_categories": [],
        "confidential_addresses": [dict(m) for m in confidential_addresses],
    }


def case_notes(text: str, kind: str = "DECISION_REASON", decided_by: str | None = "sw-1") -> SectionInput:
    note = {"kind": kind, "text": text, "decided_by": decided_by}
    return SectionInput("case_notes", {"subject_ref": "", "notes": [note]})


def setup_world(registry: SchemaRegistry, policy_path: Path) -> World:
    world = make_world(registry)
    policy = load_policy(policy_path)
    for pid, p in policy.participants.items():
        if pid not in world.keys:
            world.add(pid, p.role, p.agency)
    for sub in policy.subscribers:
        if sub not in world.keys:
            world.add(sub, "SUBSCRIBER")
    return world


def write_keys(world: World, keys_dir: Path, *participants: str) -> KeystoreSettings:
    store = Keystore(keys_dir, SecretStr(PASSPHRASE), scrypt_n=2**12)
    for pid in participants:
        store.save(world.keys[pid])
    (keys_dir / "root.pub").write_text(base64.b64encode(world.root.current.sign_public).decode())
    return KeystoreSettings(dir=keys_dir, passphrase=SecretStr(PASSPHRASE))


def kernel_state(
    store: StoreSettings, sqlite_path: Path, owner: str
) -> tuple[dict[tuple[str, int], int], int] | None:
    """A service's stored offsets and outbox depth, from whichever store it runs on, read beside it
    (None: not yet created). ``owner`` names its PostgreSQL schema when the settings do not."""
    offsets, depth = (
        "SELECT topic, partition, next_offset FROM kernel_offsets",
        "SELECT count(*) FROM kernel_outbox",
    )
    if store.url is not None:
        try:
            with psycopg.connect(store.url.get_secret_value()) as conn:
                name = sql.Identifier(schema_name(store, owner))
                conn.execute(sql.SQL("SET search_path TO {}").format(name))
                stored = {(t, p): o for t, p, o in conn.execute(offsets)}
                row = conn.execute(depth).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        return stored, row[0] if row else 0
    if not sqlite_path.exists():
        return None
    # closing(): a sqlite3 connection's own context manager ends a transaction, not the connection.
    with contextlib.closing(sqlite3.connect(sqlite_path, timeout=5)) as lite:
        try:
            return {(t, p): o for t, p, o in lite.execute(offsets)}, lite.execute(depth).fetchone()[0]
        except sqlite3.OperationalError:  # not created yet, or busy past the timeout: ask again later
            return None


@dataclass
class Rig:
    kafka: KafkaSettings
    topics: Topics
    registry: SchemaRegistry
    world: World
    settings: BrokerSettings
    producer: Producer
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @classmethod
    async def create(
        cls,
        kafka: KafkaSettings,
        topics: Topics,
        registry: SchemaRegistry,
        tmp: Path,
        policy_path: Path = POLICY,
        store: StoreSettings | None = None,
    ) -> Rig:
        policy_copy = tmp / "policy.yaml"
        shutil.copy(policy_path, policy_copy)
        world = setup_world(registry, policy_copy)
        policy = load_policy(policy_copy)
        agencies = sorted({p.agency for p in policy.participants.values() if p.agency})
        await ensure_topics(kafka, topics.specs(agencies, list(policy.subscribers), partitions=2))
        settings = BrokerSettings(
            kafka=kafka,
            policy=policy_copy,
            policy_poll_s=0.1,
            state_dir=tmp / "state",
            keys=write_keys(world, tmp / "keys", "broker"),
            metrics=MetricsSettings(enabled=False),
            consumer=ConsumerSettings(group_id=f"{topics.prefix}-broker", retry_backoff_s=0.05),
            partitions=2,
            store=store or StoreSettings(),
        )
        producer = Producer(kafka)
        await producer.start()
        for key, value in world.records:
            await producer.send_and_wait(topics.keys, value, key=key)
        return cls(kafka, topics, registry, world, settings, producer)

    async def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run(self.settings, self.stop))

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task
        await self.producer.stop()

    # -- sending ------------------------------------------------------------------------------------
    async def send(
        self,
        sender: str,
        kind: str,
        rid: str,
        body: dict[str, Any],
        items: Sequence[SectionInput] = (),
        recipients: Sequence[str] = ("broker",),
        *,
        msg_id: str | None = None,
        topic: str | None = None,
    ) -> str:
        msg_id = msg_id or str(uuid.uuid4())
        value = self.world.party(sender).seal(
            kind=kind,
            referral_id=rid,
            body=body,
            sections=list(items),
            recipients=list(recipients),
            msg_id=msg_id,
        )
        if topic is not None:
            pass
        elif kind == "INTEL":
            topic = self.topics.intel(self.world.keys[sender].agency or "")
        else:
            topic = getattr(self.topics, _KIND_TOPIC[kind])
        await self.producer.send_and_wait(topic, value, key=rid.encode())
        return msg_id

    async def referral(
        self,
        rid: str,
        rag: str,
        items: Sequence[SectionInput] = (),
        subjects: Sequence[Mapping[str, Any]] = ({"subject_ref": "S1", "role": "CHILD"},),
        **fields: Any,
    ) -> str:
        """``fields``: Referral v2's own (referrer_type, immediate_risk ...)."""
        return await self.send("hub.devon", "REFERRAL", rid, referral_body(rag, subjects, **fields), items)

    async def assign(
        self, rid: str, *subscribers: str, action: str = "ASSIGN", sender: str = "hub.devon"
    ) -> str:
        body = {
            "subscribers": list(subscribers),
            "action": action,
            "assigned_by": "mash-manager",
            "assigned_at": now_micros(),
        }
        return await self.send(sender, "ASSIGNMENT", rid, body)

    async def consent(
        self,
        rid: str,
        kind: str,
        *,
        decided_by: str | None = None,
        reason: str | None = None,
        family_informed: bool | None = None,
        sender: str = "hub.devon",
        **fields: Any,
    ) -> str:
        """As the hub sends it: who decided and why in a sealed case-notes section, not in the body.
        ``fields``: Consent v2's own (subject_ref, party, gillick_competent, scope, categories ...)."""
        body = consent_body(kind, family_informed=family_informed, **fields)
        items = [case_notes(reason, "CONSENT_REASON", decided_by)] if reason else []
        return await self.send(sender, "CONSENT", rid, body, items)

    async def decision(
        self,
        rid: str,
        kind: str,
        sender: str = "hub.devon",
        reason: str = "recorded in the test",
        decided_by: str = "sw-1",
        **fields: Any,
    ) -> str:
        """As the hub sends it: the reason and the decision maker sealed as case notes."""
        body = decision_body(kind, **fields)
        return await self.send(sender, "DECISION", rid, body, [case_notes(reason, decided_by=decided_by)])

    async def enquiry(
        self,
        rid: str,
        agencies: Sequence[str],
        subjects: Sequence[str] = ("S1",),
        sender: str = "hub.devon",
    ) -> str:
        body = {
            "enquiry_id": str(uuid.uuid4()),
            "addressed_agencies": list(agencies),
            "subject_refs": list(subjects),
            "categories": ["identity", "police_incidents"],
            "purpose": "TRIAGE",
            "lawful_basis": "DPA2018-Sch1-para18",
            "legal_reason": "Children Act 1989 s47",
            "isa_ref": "DEVON-MASH-ISA-2026",
            "rag": "RED",
            "deadline": now_micros(),
            "requested_by": "mash-researcher",
        }
        items = [SectionInput("identity", payload(s)) for s in subjects]
        return await self.send(sender, "ENQUIRY", rid, body, items, recipients=list(agencies))

    async def intel(
        self,
        sender: str,
        rid: str,
        items: Sequence[SectionInput],
        confidence: float = 1.0,
        *,
        msg_id: str | None = None,
        topic: str | None = None,
        agency: str | None = None,
        confidential_addresses: Sequence[Mapping[str, str]] = (),
    ) -> str:
        agency = agency or self.world.keys[sender].agency or ""
        subjects = sorted({i.subject_ref for i in items})
        body = intel_body(agency, subjects, confidence, confidential_addresses)
        return await self.send(sender, "INTEL", rid, body, items, msg_id=msg_id, topic=topic)

    # -- observing ----------------------------------------------------------------------------------
    def _db(self) -> Path:
        return self.settings.state_dir / "broker.sqlite"

    def _kernel_state(self) -> tuple[dict[tuple[str, int], int], int] | None:
        return kernel_state(self.settings.store, self._db(), self.settings.participant_id)

    async def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker has processed every input record and published its outbox."""
        policy = load_policy(self.settings.policy)
        agencies = sorted({p.agency for p in policy.participants.values() if p.agency})
        inputs: list[str] = [
            self.topics.referrals,
            self.topics.consent,
            self.topics.assignments,
            self.topics.decisions,
            self.topics.enquiries,
        ]
        inputs += [self.topics.intel(a) for a in agencies]
        ends = await end_offsets(self.kafka, inputs)

        def caught_up() -> bool:
            state = self._kernel_state()
            if state is None:
                return False
            stored, queued = state
            return queued == 0 and all(stored.get((tp.topic, tp.partition), 0) >= e for tp, e in ends.items())

        await eventually(caught_up, timeout_s, "the broker caught up")

    async def releases(self, subscriber: str, rid: str) -> list[Opened]:
        party = self.world.party(subscriber)
        records = await read_to_end(self.kafka, self.topics.release(subscriber))
        return [party.open(r.value, r.key) for r in records if r.key == rid.encode() and r.value]

    async def view(self, subscriber: str, rid: str) -> dict[str, tuple[str, str]]:
        """category -> (RELEASE | WITHHOLD | REVIEW, rule) as the subscriber sees it after every release."""
        return _view(await self.releases(subscriber, rid))

    async def cells(self, subscriber: str, rid: str) -> dict[tuple[str, str], tuple[str, str]]:
        """(category, subject) -> (RELEASE | WITHHOLD | REVIEW, rule): :meth:`view` subject by subject."""
        return _cells(await self.releases(subscriber, rid))

    async def views(self, subscriber: str) -> dict[str, dict[str, tuple[str, str]]]:
        """Every referral's :meth:`view`, from one read of the release topic (a read is a TLS sign-in)."""
        party = self.world.party(subscriber)
        opened: dict[str, list[Opened]] = {}
        for r in await read_to_end(self.kafka, self.topics.release(subscriber)):
            if r.value and r.key:
                opened.setdefault(r.key.decode(), []).append(party.open(r.value, r.key))
        return {rid: _view(items) for rid, items in opened.items()}

    async def audit(self, rid: str) -> list[dict[str, Any]]:
        from services.broker.audit import trail

        return trail(self.registry, await read_to_end(self.kafka, self.topics.audit), rid)

    async def dead_letters(self) -> list[dict[str, Any]]:
        from jigsaw.bus.dlq import DeadLetterCodec

        codec = DeadLetterCodec(self.registry, "test")
        return [codec.decode(r.value) for r in await read_to_end(self.kafka, self.topics.dlq) if r.value]


def _view(releases: list[Opened]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for opened in releases:
        for s in opened.sections:
            if s.withheld is None:
                out[s.category] = ("RELEASE", "")
            elif out.get(s.category, ("", ""))[0] != "RELEASE":
                out[s.category] = (s.withheld.reason.split(":")[0], s.withheld.rule_id)
    return out


def _cells(releases: list[Opened]) -> dict[tuple[str, str], tuple[str, str]]:
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for opened in releases:
        for s in opened.sections:
            key = (s.category, s.subject_ref)
            if s.withheld is None:
                out[key] = ("RELEASE", "")
            elif out.get(key, ("", ""))[0] != "RELEASE":
                out[key] = (s.withheld.reason.split(":")[0], s.withheld.rule_id)
    return out
