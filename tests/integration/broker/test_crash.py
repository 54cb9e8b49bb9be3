"""kill -9 the broker mid-stream and restart it: no release or audit record is lost, every duplicate is an
exact copy that consumers drop by id, no decision is made twice, and the audit chain is unbroken."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

from devkit.testkit.broker import PASSPHRASE, Rig, sections
from jigsaw.bus.reader import read_to_end
from jigsaw.bus.records import HEADER_MSG_ID
from jigsaw.config import KafkaSettings
from jigsaw.service_env import service_env
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from services.broker.audit import verify_chain
from tests.integration import kafkautil as ku

N = 150
CATEGORIES = ("identity", "police_incidents", "contact")
SUBSCRIBERS = ("csc-mash", "police-mash")


def _env(rig: Rig) -> dict[str, str]:
    s = rig.settings
    return service_env("JIGSAW_BROKER__", {"kafka": s.kafka}) | {
        "JIGSAW_BROKER__POLICY": str(s.policy),
        "JIGSAW_BROKER__STATE_DIR": str(s.state_dir),
        "JIGSAW_BROKER__KEYS__DIR": str(s.keys.dir),
        "JIGSAW_BROKER__KEYS__PASSPHRASE": PASSPHRASE,
        "JIGSAW_BROKER__METRICS__ENABLED": "false",
        "JIGSAW_BROKER__CONSUMER__GROUP_ID": s.consumer_settings().group_id,
        "JIGSAW_BROKER__PARTITIONS": "2",
    }


def _processed(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def test_kill_minus_9_mid_stream(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    rig = await Rig.create(kafka, topics, registry, tmp_path)
    try:
        for i in range(N):
            rid = f"R-{i:04d}"
            await rig.referral(rid, "RED")
            await rig.assign(rid, *SUBSCRIBERS)
            await rig.intel("police.devon", rid, sections(*CATEGORIES))
        db = rig.settings.state_dir / "broker.sqlite"
        args = ["-m", "apps.cli", "broker", "run"]
        first = ku.Worker(args, tmp_path / "first.log", _env(rig))
        await first.ready("broker ready")
        await ku.eventually(lambda: _processed(db) >= N, what="some decisions made")
        first.kill9()
        assert _processed(db) < N * 4 * len(CATEGORIES), "the kill must land mid-stream"

        second = ku.Worker(args, tmp_path / "second.log", _env(rig))
        await second.ready("broker ready")
        await rig.settle(timeout_s=120)
        assert second.terminate() == 0, second.output()

        for sub in SUBSCRIBERS:
            releases = await read_to_end(kafka, topics.release(sub))
            copies: dict[bytes | None, set[bytes | None]] = defaultdict(set)
            for r in releases:
                copies[r.header(HEADER_MSG_ID)].add(r.value)
            assert all(len(v) == 1 for v in copies.values()), "a duplicate release is an exact copy"
            views = await rig.views(sub)
            for i in range(N):
                view = views.get(f"R-{i:04d}")
                assert view == {c: ("RELEASE", "") for c in CATEGORIES}, f"R-{i:04d} for {sub}"

        audit = await read_to_end(kafka, topics.audit)
        report = verify_chain(registry, rig.world.directory, "broker", audit)
        assert report.ok, report.breaks
        # A decision's id is deterministic: made twice, it would appear twice with different bytes.
        decisions: dict[tuple[str, str], int] = defaultdict(int)
        released = set()
        for value in {r.value for r in audit}:
            a = registry.decode(value, "jigsaw.body.AuditRecord")  # type: ignore[arg-type]
            decisions[(a["decision_id"], a["category"])] += 1
            if a["outcome"] == "RELEASE" and a["subscriber"] in SUBSCRIBERS:
                released.add((a["source_msg_id"], a["subscriber"], a["category"]))
        assert max(decisions.values()) == 1, "no decision was made twice"
        assert len(released) == N * len(SUBSCRIBERS) * len(CATEGORIES), "no release decision lost"
    finally:
        await rig.close()
