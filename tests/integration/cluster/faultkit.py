"""Fault runs in the style of Kafka's own system tests and Jepsen's: a bounded stream of returns through the
real broker and hub processes on the 3-node cluster, a fault injected mid-stream, then one checker.

The checker asserts that every acknowledged return reached every subscriber it was for, that each copy of
a release or audit record is an exact copy of the first (consumers drop those by id), that no decision was
made twice, that the hub's live case views equal the views a rebuild from the topics gives, and that the
audit chain verifies, checkpoints included.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from psycopg import sql

from devkit.testkit.broker import PASSPHRASE, Rig, intel_body, kernel_state, sections, write_keys
from jigsaw.bus.reader import end_offsets, read_to_end
from jigsaw.bus.records import HEADER_MSG_ID
from jigsaw.bus.stores import schema_name, store_for
from jigsaw.config import ConsumerSettings, KafkaSettings, MetricsSettings, StoreSettings
from jigsaw.service_env import service_env
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.broker.audit import verify_chain
from services.hub import store as hub_store
from services.hub.app import rebuild
from services.hub.config import HubSettings, token_hash
from services.hub.view import render
from tests.integration import kafkautil as ku

CATEGORIES = ("identity", "police_incidents", "contact")
SUBSCRIBERS = ("csc-mash", "police-mash")
HUB = "csc-mash"
# Not shorter: on two cores, beside three Kafka nodes, PostgreSQL and the services, a 6 s session saw a
# healthy instance miss its heartbeats under load, be evicted and then (rightly) fenced.
SESSION_TIMEOUT_MS = 10_000
API_TOKEN = "fault-run-desk"


@dataclass
class FaultRun:
    rig: Rig
    tmp: Path
    hub_settings: HubSettings
    acked: dict[str, str] = field(default_factory=dict)  # msg id -> referral id, once Kafka acknowledged it
    resent: int = 0
    workers: dict[str, ku.Worker] = field(default_factory=dict)

    @classmethod
    async def create(
        cls,
        kafka: KafkaSettings,
        topics: Topics,
        registry: SchemaRegistry,
        tmp: Path,
        referrals: int,
        store: StoreSettings | None = None,
        hub_store: StoreSettings | None = None,
    ) -> FaultRun:
        """``store`` set: every broker instance of the run shares that PostgreSQL schema; ``hub_store``:
        every hub instance shares that one."""
        rig = await Rig.create(kafka, topics, registry, tmp, store=store)
        keys = write_keys(rig.world, tmp / "hub-keys", HUB, "hub.devon", "broker")
        hub = HubSettings(
            kafka=kafka,
            subscriber=HUB,
            policy=rig.settings.policy,
            keys=keys,
            state_dir=tmp / "hub",
            api_port=0,
            metrics=MetricsSettings(enabled=False),
            partitions=2,
            consumer=ConsumerSettings(group_id=f"{topics.prefix}-hub", retry_backoff_s=0.05),
            store=hub_store or StoreSettings(),
        )
        run = cls(rig, tmp, hub)
        for i in range(referrals):
            await rig.referral(run.rid(i), "RED")
            await rig.assign(run.rid(i), *SUBSCRIBERS)
        return run

    @staticmethod
    def rid(i: int) -> str:
        return f"R-{i:05d}"

    # -- processes ----------------------------------------------------------------------------------
    def _broker_env(self) -> dict[str, str]:
        s = self.rig.settings
        return service_env("JIGSAW_BROKER__", {"kafka": s.kafka, "store": s.store}) | {
            "JIGSAW_BROKER__POLICY": str(s.policy),
            "JIGSAW_BROKER__STATE_DIR": str(s.state_dir),
            "JIGSAW_BROKER__KEYS__DIR": str(s.keys.dir),
            "JIGSAW_BROKER__KEYS__PASSPHRASE": PASSPHRASE,
            "JIGSAW_BROKER__METRICS__ENABLED": "false",
            "JIGSAW_BROKER__CONSUMER__GROUP_ID": s.consumer_settings().group_id,
            "JIGSAW_BROKER__PARTITIONS": "2",
            # A dead or paused instance's partitions move after this (the default; the runs wait on it).
            "JIGSAW_BROKER__CONSUMER__SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "JIGSAW_BROKER__CONSUMER__HEARTBEAT_INTERVAL_MS": str(SESSION_TIMEOUT_MS // 3),
        }

    def _hub_env(self) -> dict[str, str]:
        h = self.hub_settings
        assert h.consumer is not None
        return service_env(
            "JIGSAW_HUB__",
            {
                "kafka": h.kafka,
                "subscriber": h.subscriber,
                "policy": h.policy,
                "keys": {"dir": h.keys.dir, "passphrase": PASSPHRASE},
                "state_dir": h.state_dir,
                "api_port": 0,
                "metrics": {"enabled": False},
                "partitions": 2,
                "consumer": {
                    "group_id": h.consumer.group_id,
                    "retry_backoff_s": 0.05,
                    "session_timeout_ms": SESSION_TIMEOUT_MS,
                    "heartbeat_interval_ms": SESSION_TIMEOUT_MS // 3,
                },
                "store": h.store,
                "api_tokens": json.dumps({"desk": {"subscriber": HUB, "sha256": token_hash(API_TOKEN)}}),
            },
        )

    async def start(self, name: str) -> ku.Worker:
        """Start ``broker``/``broker-2``... or ``hub``/``hub-2``... as a real process and wait until ready."""
        kind = name.split("-")[0]
        args = ["-m", "apps.cli", kind, "run", *(["--subscriber", HUB] if kind == "hub" else [])]
        env = self._broker_env() if kind == "broker" else self._hub_env()
        worker = ku.Worker(args, self.tmp / f"{name}-{len(self.workers)}.log", env)
        self.workers[name] = worker
        await worker.ready(f"{kind} ready", timeout_s=120)
        return worker

    def stop_all(self) -> None:
        for name, worker in self.workers.items():
            if worker.proc.poll() is None:
                code = worker.terminate()
                assert code == 0, f"{name} exited {code}:\n{worker.output()[-3000:]}"

    # -- the stream ---------------------------------------------------------------------------------
    async def stream(
        self, first: int, count: int, rate_per_s: float, hold: tuple[int, asyncio.Event] | None = None
    ) -> None:
        """One police return for each of ``count`` referrals, paced at ``rate_per_s``. A send Kafka does not
        acknowledge is sent again, byte for byte, until it is: a connector's outbox does the same.

        ``hold=(n, event)`` keeps the last ``n`` returns back until ``event`` is set, so that faults driven
        beside the stream land mid-stream however slowly a machine restarts a node."""
        start = time.monotonic()
        for n, i in enumerate(range(first, first + count)):
            if hold is not None and n == count - hold[0] and not hold[1].is_set():
                await hold[1].wait()
                start = time.monotonic() - n / rate_per_s
            rid = self.rid(i)
            msg_id = str(uuid.uuid4())
            items = sections(*CATEGORIES)
            body = intel_body("police", ["S1"])
            party = self.rig.world.party("police.devon")
            value = party.seal(
                kind="INTEL", referral_id=rid, body=body, sections=items, recipients=["broker"], msg_id=msg_id
            )
            while True:
                try:
                    await self.rig.producer.send_and_wait(
                        self.rig.topics.intel("police"), value, key=rid.encode()
                    )
                    break
                except KafkaError:
                    self.resent += 1
                    await asyncio.sleep(0.5)
            self.acked[msg_id] = rid
            delay = start + (n + 1) / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    # -- faults -------------------------------------------------------------------------------------
    async def busiest_leader(self) -> int:
        """The node leading the audit partition with the most records: 12 of a return's 16 records go
        to the audit topic."""
        ends = await end_offsets(self.rig.kafka, [self.rig.topics.audit])
        busiest = max(ends, key=lambda tp: ends[tp]).partition
        admin = AIOKafkaAdminClient(**self.rig.kafka.client_kwargs())
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self.rig.topics.audit])
        finally:
            await admin.close()
        return next(int(p["leader"]) for p in described["partitions"] if p["partition"] == busiest)

    def owners(self, kind: str = "broker") -> dict[tuple[str, int], tuple[int, str]]:
        """Who holds each input partition of the ``broker``'s or the ``hub``'s shared store, at which
        generation (PostgreSQL runs)."""
        store, owner = (
            (self.rig.settings.store, self.rig.settings.participant_id)
            if kind == "broker"
            else (self.hub_settings.store, self.hub_settings.store_owner())
        )
        assert store.url is not None, "a run on the shared store"
        with psycopg.connect(store.url.get_secret_value()) as conn:
            name = sql.Identifier(schema_name(store, owner))
            conn.execute(sql.SQL("SET search_path TO {}").format(name))
            try:
                rows = conn.execute("SELECT topic, partition, generation, owner FROM kernel_owners")
                return {(t, p): (g, o) for t, p, g, o in rows}
            except psycopg.errors.UndefinedTable:
                return {}

    def api(self, name: str) -> str:
        """The base URL of hub instance ``name``'s API, from its ready line."""
        found = re.search(r"API (http://127\.0\.0\.1:\d+)", self.workers[name].output())
        assert found, f"{name} printed no API address"
        return found.group(1)

    # -- the checker --------------------------------------------------------------------------------
    async def settle(self, timeout_s: float = 180.0) -> None:
        """The broker caught up with every input and published its outbox, and the hub with its releases."""
        await self.rig.settle(timeout_s=timeout_s)
        release = self.rig.topics.release(HUB)
        ends = await end_offsets(self.rig.kafka, [release])
        h = self.hub_settings

        def hub_caught_up() -> bool:
            state = kernel_state(h.store, h.store_path(), h.store_owner())
            if state is None:
                return False
            stored, _ = state
            return all(stored.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items())

        await ku.eventually(hub_caught_up, timeout_s, "the hub caught up with its releases")

    async def check(self) -> dict[str, Any]:
        """Stop every process, then check the whole run. Returns counts for the test's own assertions."""
        await self.settle()
        self.stop_all()
        rig = self.rig
        expected = set(self.acked)
        assert len(expected) == len(set(self.acked.values())), "one return per referral"

        for sub in SUBSCRIBERS:
            copies: dict[bytes | None, set[bytes | None]] = defaultdict(set)
            for r in await read_to_end(rig.kafka, rig.topics.release(sub)):
                copies[r.header(HEADER_MSG_ID)].add(r.value)
            assert all(len(v) == 1 for v in copies.values()), f"a duplicate release to {sub} is an exact copy"
            views = await rig.views(sub)
            for rid in self.acked.values():
                assert views.get(rid) == {c: ("RELEASE", "") for c in CATEGORIES}, f"{rid} for {sub}"

        audit = await read_to_end(rig.kafka, rig.topics.audit)
        report = verify_chain(rig.registry, rig.world.directory, "broker", audit)
        assert report.ok, report.breaks
        assert report.unsigned_tail == 0, "a stopped broker signs its chains' tails"
        decisions: dict[tuple[str, str], int] = defaultdict(int)
        released: set[tuple[str, str, str]] = set()
        for value in {r.value for r in audit}:
            a = rig.registry.decode(value, "jigsaw.body.AuditRecord")  # type: ignore[arg-type]
            if a.get("decision_id"):
                decisions[(a["decision_id"], a["category"])] += 1
            if a.get("outcome") == "RELEASE" and a.get("subscriber") in SUBSCRIBERS:
                released.add((a["source_msg_id"], a["subscriber"], a["category"]))
        assert max(decisions.values()) == 1, "no decision was made twice"
        wanted = {(m, s, c) for m in expected for s in SUBSCRIBERS for c in CATEGORIES}
        assert wanted <= released, f"{len(wanted - released)} acknowledged releases missing from the audit"

        at = now_micros()
        rebuilt = self.tmp / "rebuilt.sqlite"
        assert await rebuild(self.hub_settings, rebuilt) > 0
        # The live views as the hub's API reads them, from whichever store it runs on.
        h = self.hub_settings
        store = store_for(h.store, h.store_path(), h.store_owner(), hub_store.SCHEMA)
        store.open()
        live = store.reader()
        try:
            with sqlite3.connect(rebuilt) as again:
                for rid in self.acked.values():
                    view = render(live, rid, at)
                    assert view is not None, f"{rid} has no live view"
                    assert render(again, rid, at) == view, f"{rid}: the live view differs from a rebuild's"
        finally:
            live.close()
            store.close()
        return {"acked": len(expected), "resent": self.resent, "audit": report.records}
