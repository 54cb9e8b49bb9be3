"""The hub at scale: memory and store size at 100,000 and 1,000,000 referrals, and rebuild throughput.

    .venv/bin/python -m bench.scale [--sizes 100000,1000000] [--rebuild 20000]

Stores: built in this process, not through Kafka (replaying a million returns through the broker would take
over an hour on this machine; the broker is measured by ``python -m bench.e2e`` and
``python -m bench.broker``). The first 10,000 referrals go through the hub store's own write functions
(``services/hub/store.py``: referral, match,
three sections of one police return, an enquiry and its answer, the duplicate-check row, the case row); the
rest are SQL copies of those rows under new ids, so every referral has rows of the same sizes in the same
tables and indexes. The store grows in place from one size to the next. At each size a real hub (``jigsaw hub
run``) is started on the store, serves list, case and timeline requests over its API, and its resident memory
(now and peak) is read from ``/proc``; the store's size is that of its SQLite files. The mean time of the per-
update case refresh (``touch_case``) on each store is measured too. Start-up: from spawning ``jigsaw hub run``
to its first successful case view over the API (polled every 5 ms), both on the first start and on a restart
once that hub has served its requests and stopped.

Rebuild: N real releases (sealed by the police connector's key, re-keyed for csc-mash by the broker's key,
in this process) are put on the release topic, then ``jigsaw hub rebuild --into`` replays them; records per
second is what the command prints (its whole run: Kafka clients, key directory, replay).
Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.kit import report
from bench.kit.procs import Child, spawn
from bench.kit.world import (
    HUB_SUBSCRIBER,
    Deployment,
    create_topics,
    drop_topics,
    intel_body,
    intel_sections,
    kafka_settings,
    make_deployment,
    new_prefix,
    pool_ids,
)
from devkit.localkafka import LocalKafka
from devkit.testkit.wire import normalized
from jigsaw.bus.clients import Producer
from jigsaw.bus.store import Store, Tx
from jigsaw.config import KafkaSettings
from jigsaw.ids import derived_id
from jigsaw.serving import free_port
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.hub import store as hub_store
from services.hub.config import token_hash

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for a benchmark's own hub
BATCH = 2000
DAY_US = 86_400_000_000


def say(text: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- building a store ------------------------------------------------------------------------------


def grow(path: Path, registry: SchemaRegistry, start: int, end: int) -> float:
    """Add referrals ``start`` .. ``end - 1`` to the hub store at ``path``; returns the seconds taken."""
    variants = [
        [(s.category, normalized(registry, s.category, dict(s.payload))) for s in intel_sections(i)]
        for i in range(16)
    ]
    store = Store(path, hub_store.SCHEMA)
    store.open()
    now = now_micros()
    t0 = time.perf_counter()
    try:
        for lo in range(start, end, BATCH):
            with store.transaction() as tx:
                for n in range(lo, min(end, lo + BATCH)):
                    rid = f"R-{n:032x}"
                    msg = derived_id("bench-return", rid)
                    at = now - (n % 90) * DAY_US
                    hub_store.put_referral(
                        tx,
                        rid,
                        {
                            "source_type": "POLICE",
                            "concerns": ["NEGLECT", "DOMESTIC_ABUSE"],
                            "subject_refs": [{"subject_ref": "S1", "role": "CHILD"}],
                            "rag": ("RED", "AMBER", "GREEN")[n % 3],
                        },
                        at,
                    )
                    hub_store.put_matches(
                        tx,
                        rid,
                        msg,
                        "police",
                        [{"subject_ref": "S1", "method": "EXACT_PNC", "confidence": 1.0}],
                    )
                    for category, payload in variants[n % 16]:
                        hub_store.put_section(
                            tx, rid, msg, "police", at, category, "S1", "RELEASED", payload, None, None
                        )
                    enquiry = derived_id("bench-enquiry", rid)
                    hub_store.put_enquiry(
                        tx,
                        rid,
                        "police",
                        {
                            "enquiry_id": enquiry,
                            "categories": ["identity", "police_incidents", "contact"],
                            "purpose": "TRIAGE",
                            "rag": "RED",
                        },
                        at - 3_600_000_000,
                        at + 3 * 3_600_000_000,
                    )
                    hub_store.put_answer(tx, enquiry, msg, at)
                    tx.first_seen(derived_id("bench-release", rid), msg.encode())
                    hub_store.touch_case(tx, rid)
            if (lo - start) % 100_000 == 0 and lo > start:
                rate = (lo - start) / (time.perf_counter() - t0)
                say(f"  {lo:,} referrals written ({rate:,.0f}/s)")
    finally:
        store.close()
    return time.perf_counter() - t0


TEMPLATE = 10_000
# Each statement copies the template referrals (the first TEMPLATE, written through the store's functions)
# under new ids: ``:lo`` .. ``:hi`` are the copy numbers, ``n + k * TEMPLATE`` a copy's referral number.
_COPY = [
    "INSERT INTO referral_meta SELECT printf('R-%032x', t.n + k.k * {T}), r.source_type, r.received_at,"
    " r.concerns, r.subjects, r.initial_rag FROM referral_meta r JOIN tmpl t ON t.rid = r.referral_id, ks k",
    "INSERT INTO sections SELECT printf('R-%032x', t.n + k.k * {T}), s.source_msg_id || '.' || k.k,"
    " s.category, s.subject_ref, s.agency, s.status, s.payload, s.reason, s.rule_id, s.created_at"
    " FROM sections s JOIN tmpl t ON t.rid = s.referral_id, ks k",
    "INSERT INTO matches SELECT printf('R-%032x', t.n + k.k * {T}), m.source_msg_id || '.' || k.k,"
    " m.subject_ref, m.agency, m.method, m.confidence"
    " FROM matches m JOIN tmpl t ON t.rid = m.referral_id, ks k",
    "INSERT INTO enquiries SELECT e.enquiry_id || '.' || k.k, printf('R-%032x', t.n + k.k * {T}),"
    " e.agency, e.categories, e.purpose, e.rag, e.deadline, e.sent_at"
    " FROM enquiries e JOIN tmpl t ON t.rid = e.referral_id, ks k",
    "INSERT INTO answers SELECT a.enquiry_id || '.' || k.k, a.source_msg_id || '.' || k.k, a.answered_at"
    " FROM answers a JOIN enquiries e ON e.enquiry_id = a.enquiry_id"
    " JOIN tmpl t ON t.rid = e.referral_id, ks k",
    "INSERT INTO cases SELECT printf('R-%032x', t.n + k.k * {T}), c.rag, c.outcome, c.updated_at"
    " FROM cases c JOIN tmpl t ON t.rid = c.referral_id, ks k",
    "INSERT INTO kernel_seen (msg_id, sender, digest, seen_at) SELECT s.msg_id || '.' || k.k, s.sender,"
    " s.digest, s.seen_at FROM kernel_seen s, ks k WHERE s.msg_id NOT LIKE '%.%'",
]


def replicate(path: Path, have: int, want: int) -> float:
    """Grow the store from ``have`` to ``want`` referrals by copying the template's rows in SQL."""
    store = Store(path, hub_store.SCHEMA)
    store.open()
    t0 = time.perf_counter()
    try:
        conn = store.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS tmpl (n INTEGER PRIMARY KEY, rid TEXT UNIQUE)")
        conn.execute("DELETE FROM tmpl")
        conn.executemany("INSERT INTO tmpl VALUES (?, ?)", [(n, f"R-{n:032x}") for n in range(TEMPLATE)])
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ks (k INTEGER PRIMARY KEY)")
        for lo in range(have // TEMPLATE, want // TEMPLATE, 10):
            hi = min(want // TEMPLATE, lo + 10)
            with store.transaction() as tx:
                tx.execute("DELETE FROM ks")
                tx.conn.executemany("INSERT INTO ks VALUES (?)", [(k,) for k in range(lo, hi)])
                for sql in _COPY:
                    tx.execute(sql.format(T=TEMPLATE))
            say(f"  {hi * TEMPLATE:,} referrals")
    finally:
        store.close()
    return time.perf_counter() - t0


def touch_ms(path: Path, referrals: int, n: int) -> float:
    """Mean time of the hub's per-update refresh of a case row (``touch_case``) on this store: what every
    applied release pays, and what grows with the store if a lookup in it scans a table."""
    store = Store(path, hub_store.SCHEMA)
    store.open()
    rng = random.Random(n)
    try:
        store.conn.execute("BEGIN")
        tx = Tx(store.conn)
        t0 = time.perf_counter()
        for _ in range(n):
            hub_store.touch_case(tx, f"R-{rng.randrange(referrals):032x}")
        elapsed = time.perf_counter() - t0
        store.conn.execute("ROLLBACK")
    finally:
        store.close()
    return elapsed * 1e3 / n


def store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# -- a real hub on the store -----------------------------------------------------------------------


def hub_env(kafka: KafkaSettings, deployment: Deployment, state_dir: Path) -> dict[str, str]:
    tokens = {"bench": {"subscriber": HUB_SUBSCRIBER, "sha256": token_hash(TOKEN), "scopes": ["read"]}}
    return deployment.service_env("hub", kafka, state_dir, api_tokens=json.dumps(tokens))


CLI = ["-c", "from apps.cli import main; main()"]
FIRST = f"R-{0:032x}"  # a referral every store holds: the template's first


def api_client(port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    )


async def start_hub(
    bootstrap: str, kafka: KafkaSettings, deployment: Deployment, state_dir: Path, log: Path
) -> tuple[Child, int, float]:
    """``jigsaw hub run`` on the store; returns once it has served a case view, with the seconds from
    spawning it to that view: what a desk waits for after a restart."""
    port = free_port()
    t0 = time.perf_counter()
    hub = await spawn(
        "hub",
        [*CLI, "hub", "run", "--subscriber", HUB_SUBSCRIBER, "--port", str(port), "--bootstrap", bootstrap],
        log,
        hub_env(kafka, deployment, state_dir),
    )
    try:
        async with api_client(port) as api:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if (await api.get(f"/cases/{FIRST}")).status_code == 200:
                        return hub, port, time.perf_counter() - t0
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or hub.proc.returncode is not None:
                    raise RuntimeError(f"the hub did not serve a case view:\n{hub.tail()}")
                await asyncio.sleep(0.005)
    except BaseException:
        await hub.stop()
        raise


async def serve_views(
    bootstrap: str, deployment: Deployment, state_dir: Path, referrals: int, tmp: Path, requests: int
) -> dict[str, Any]:
    prefix = new_prefix("scale")
    kafka, topics = kafka_settings(bootstrap, prefix), Topics(prefix)
    await create_topics(kafka, topics, deployment)
    async with Producer(kafka) as producer:
        for key, value in deployment.world.records:
            await producer.send_and_wait(topics.keys, value, key=key)
    timings: dict[str, list[float]] = {"list": [], "case": [], "timeline": []}
    try:
        hub, port, first_start_s = await start_hub(
            bootstrap, kafka, deployment, state_dir, tmp / f"hub-{referrals}.log"
        )
        say(f"hub on {referrals:,} referrals: first case view {first_start_s:.2f} s after spawning it")
        try:
            started = hub.usage()
            rng = random.Random(referrals)
            async with api_client(port) as api:
                for i in range(requests):
                    rid = f"R-{rng.randrange(referrals):032x}"
                    for kind, url in (("case", f"/cases/{rid}"), ("timeline", f"/cases/{rid}/timeline")):
                        t0 = time.perf_counter()
                        r = await api.get(url)
                        timings[kind].append(time.perf_counter() - t0)
                        assert r.status_code == 200, r.text
                    if i % 20 == 0:
                        t0 = time.perf_counter()
                        r = await api.get("/cases", params={"limit": 100})
                        timings["list"].append(time.perf_counter() - t0)
                        assert r.status_code == 200, r.text
                        assert len(r.json()) == 100
            after = hub.usage()
        finally:
            await hub.stop()
        # A restart: the same store and topics, the hub that just served them stopped and spawned again.
        hub, _, restart_s = await start_hub(
            bootstrap, kafka, deployment, state_dir, tmp / f"hub-{referrals}-restart.log"
        )
        say(f"hub on {referrals:,} referrals: restarted, first case view {restart_s:.2f} s after spawning it")
        await hub.stop()
    finally:
        await drop_topics(kafka, prefix)

    def ms(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "median_ms": round(xs[len(xs) // 2] * 1e3, 2),
            "max_ms": round(xs[-1] * 1e3, 2),
            "requests": len(xs),
        }

    return {
        "start_to_first_view_s": round(first_start_s, 3),
        "restart_to_first_view_s": round(restart_s, 3),
        "rss_mb_at_start": round(started.rss_mb, 1),
        "rss_mb_after_requests": round(after.rss_mb, 1),
        "peak_rss_mb": round(after.peak_rss_mb, 1),
        "requests": {k: ms(v) for k, v in timings.items()},
    }


# -- rebuild ---------------------------------------------------------------------------------------


async def rebuild(
    bootstrap: str, registry: SchemaRegistry, deployment: Deployment, n: int, tmp: Path
) -> dict[str, Any]:
    prefix = new_prefix("rebuild")
    kafka, topics = kafka_settings(bootstrap, prefix), Topics(prefix)
    await create_topics(kafka, topics, deployment)
    police, broker = deployment.world.party("police.devon"), deployment.world.party("broker")
    pool = pool_ids(prefix, max(1, n // 4))
    body, variants = intel_body(), [intel_sections(i) for i in range(16)]
    say(f"rebuild: sealing and re-keying {n:,} releases for {HUB_SUBSCRIBER}")
    t0 = time.perf_counter()
    try:
        async with Producer(kafka) as producer:
            for key, value in deployment.world.records:
                await producer.send(topics.keys, value, key=key)
            for i in range(n):
                rid = pool[i % len(pool)]
                sealed = police.seal(
                    kind="INTEL", referral_id=rid, body=body, sections=variants[i % 16], recipients=["broker"]
                )
                verified = broker.verify(sealed, rid.encode())
                release = broker.rekey(
                    verified,
                    HUB_SUBSCRIBER,
                    {},
                    decision_id=derived_id("bench-decision", verified.msg_id),
                    policy_version="bench",
                )
                await producer.send(topics.release(HUB_SUBSCRIBER), release, key=rid.encode())
                if i % 5000 == 4999:
                    say(f"  {i + 1:,} releases on the topic")
            await producer.flush()
        made_s = time.perf_counter() - t0
        say(f"rebuild: running `jigsaw hub rebuild` over {n:,} releases")
        into = tmp / "rebuilt.sqlite"
        proc = await spawn(
            "rebuild",
            [
                *CLI,
                "hub",
                "rebuild",
                "--subscriber",
                HUB_SUBSCRIBER,
                "--into",
                str(into),
                "--bootstrap",
                bootstrap,
            ],
            tmp / "rebuild.log",
            hub_env(kafka, deployment, tmp / "rebuild-state"),
        )
        t1 = time.perf_counter()
        line = await proc.expect("rebuilt", 1800)
        wall = time.perf_counter() - t1
        usage = proc.usage()
        await proc.stop()
    finally:
        await drop_topics(kafka, prefix)
    m = re.search(r": (\d+) records in ([\d.]+)s \((\d+)/s\)", line)
    if m is None:
        raise RuntimeError(f"unexpected rebuild output: {line}")
    records, seconds, rate = int(m[1]), float(m[2]), int(m[3])
    say(f"rebuild: {records:,} records in {seconds:.1f} s: {rate:,}/s")
    return {
        "releases": n,
        "records": records,
        "seconds": seconds,
        "records_per_s": rate,
        "process_wall_s": round(wall, 1),
        "cpu_s": round(usage.cpu_s, 1),
        "peak_rss_mb": round(usage.peak_rss_mb, 1),
        "made_in_s": round(made_s, 1),
    }


# -- main ------------------------------------------------------------------------------------------


def keep_logs(tmp: Path, into: Path) -> None:
    """The run's logs only: its stores run to gigabytes."""
    into.mkdir(parents=True, exist_ok=True)
    for log in tmp.glob("*.log"):
        shutil.copy2(log, into / log.name)


async def main_async(a: argparse.Namespace) -> dict[str, Any]:
    registry = SchemaRegistry.load()
    started = time.monotonic()
    sizes = sorted(int(s) for s in a.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="jigsaw-scale-") as tmp_s:
        tmp = Path(tmp_s)
        deployment = make_deployment(registry, tmp / "keys")
        state_dir = tmp / "hub"
        path = state_dir / f"hub-{HUB_SUBSCRIBER}.sqlite"
        stores: list[dict[str, Any]] = []
        have = 0
        for size in sizes:
            if have < TEMPLATE:
                say(f"store: writing {TEMPLATE:,} referrals through the hub store's write path")
                grow(path, registry, 0, TEMPLATE)
                have = TEMPLATE
            say(f"store: copying the template's rows to {size:,} referrals")
            seconds = replicate(path, have, size)
            touch = touch_ms(path, size, a.requests)
            say(f"store: {size:,} referrals, {store_bytes(path) / 2**20:,.0f} MiB; starting a hub on it")
            served = await serve_views(a.bootstrap, deployment, state_dir, size, tmp, a.requests)
            say(
                f"hub on {size:,} referrals: RSS {served['rss_mb_after_requests']:.0f} MB,"
                f" peak {served['peak_rss_mb']:.0f} MB"
            )
            stores.append(
                {
                    "referrals": size,
                    "store_mb": round(store_bytes(path) / 2**20, 1),
                    "build_s": round(seconds, 1),
                    "touch_case_ms": round(touch, 3),
                    **served,
                }
            )
            have = size
        rebuilt = await rebuild(a.bootstrap, registry, deployment, a.rebuild, tmp)
        if a.keep:
            keep_logs(tmp, a.keep)
    return {
        **report.meta(),
        "stores": stores,
        "rebuild": rebuilt,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="referral counts, comma-separated")
    ap.add_argument("--rebuild", type=int, default=20_000, help="releases to rebuild from")
    ap.add_argument("--requests", type=int, default=200, help="case and timeline requests per size")
    ap.add_argument(
        "--bootstrap", help="the local Kafka's bootstrap (default: the local Kafka, started if need be)"
    )
    ap.add_argument("--out", type=Path, default=report.RESULTS / "scale.json")
    ap.add_argument("--keep", type=Path, help="copy the run's logs (each hub's, the rebuild's) here")
    a = ap.parse_args()
    if not a.bootstrap:
        a.bootstrap = str(LocalKafka(progress=lambda _: None).up().bootstrap)
    result = asyncio.run(main_async(a))
    print("\nhub at scale (one subscriber's store; a real hub process serving its API)\n")
    print(
        f"{'referrals':>10} {'store MiB':>10} {'RSS MB':>8} {'peak MB':>8} {'case ms':>8} {'list ms':>8}"
        f" {'update ms':>10} {'start s':>8} {'restart s':>10}"
    )
    for s in result["stores"]:
        print(
            f"{s['referrals']:>10,} {s['store_mb']:>10,.0f} {s['rss_mb_after_requests']:>8.0f}"
            f" {s['peak_rss_mb']:>8.0f} {s['requests']['case']['median_ms']:>8.1f}"
            f" {s['requests']['list']['median_ms']:>8.1f} {s['touch_case_ms']:>10.2f}"
            f" {s['start_to_first_view_s']:>8.2f} {s['restart_to_first_view_s']:>10.2f}"
        )
    print("  (start, restart: from spawning `jigsaw hub run` to its first case view served over the API)")
    r = result["rebuild"]
    print(
        f"\njigsaw hub rebuild: {r['records']:,} records in {r['seconds']:.1f} s"
        f" = {r['records_per_s']:,} records/s (CPU {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB)"
    )
    print(f"\nwritten to {report.shown(report.write(a.out, result))} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
