"""End-to-end latency and throughput of Jigsaw beside a plain aiokafka pipeline, measured in one run.

    .venv/bin/python -m bench.e2e                 # the full sweep (about 9 minutes)
    .venv/bin/python -m bench.e2e --quick         # a few seconds per step: checks that it all runs

Jigsaw: connector -> Kafka -> broker -> Kafka -> hub, each a separate OS process on the local Kafka. The
connector seals each return (3 sections, about 1.5 KB) for the broker and publishes it through its outbox;
the broker (``python -m apps.cli broker run``) decides for 4 assigned subscribers and publishes a release for
each and an audit record per decision; the hub for csc-mash (``bench.kit.hub``, the real hub service)
verifies, decrypts and stores its release. Latency runs from the return being handed to the connector's
publishing path to the hub's view of the case being updated (both ``time.time_ns()`` on one machine), for
every return: percentiles come from the raw samples.

Plain: the same hops, record sizes and counts with plain aiokafka and no crypto and no policy (see
``bench/kit/plain.py``).

Each load step starts fresh processes on fresh topics: warm-up, then the measured window, then a bounded
drain; a return not in a view by the end of the drain counts as slower than every other (so an overloaded
step has no p99). Saturation is the rate at which the broker and hub stages (relay and sink for the plain
pipeline) clear a backlog of returns already on the intel topic, over the middle 80% of the backlog.

Low load: a MASH is quiet most of the time. On fresh processes, each pipeline gets 1 return a second for a
measured window (p50 and p99 of its few samples), then, after a pause, a burst of 50 returns for one
referral published back to back, as when every agency answers together: each return's time from publish to
its view, and the time from the first publish to the last view.
Writes bench/results/e2e.json (``--quick``: bench/results/e2e-quick.json, or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.kit import report
from bench.kit.e2e_tables import tables
from bench.kit.latency import Delivery, join, latency_stats, read_sent, read_updates
from bench.kit.procs import Child, count_lines, spawn
from bench.kit.profile import record
from bench.kit.sampler import Sampler
from bench.kit.shape import Shape, shape
from bench.kit.stores import backlog, caught_up, wait_until
from bench.kit.world import (
    HUB_SUBSCRIBER,
    PARTITIONS,
    create_topics,
    drop_topics,
    kafka_settings,
    make_deployment,
    new_prefix,
    passphrase,
    pool_ids,
    publish_setup,
)
from devkit.localkafka import LocalKafka
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.reader import end_offsets
from jigsaw.config import KafkaSettings
from jigsaw.ids import TopicName
from jigsaw.service_env import service_env
from jigsaw.topics import Topics, TopicSpec
from jigsaw.wire.codec import SchemaRegistry

BROKER_ARGS = ["-m", "apps.cli", "broker", "run"]
POOL = 2000  # referrals the returns are spread over (round robin), each assigned to the 4 subscribers


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...]
    warmup_s: float
    duration_s: float
    drain_s: float
    saturation_s: float  # how long, at the best rate seen in the sweep, the saturation backlog should last
    saturation_min: int
    saturation_max: int
    pool: int
    low_s: float  # the low-load step's measured window at LOW_RATE; 0 skips the step
    low_warmup_s: float
    burst: int  # returns for one referral published at once, after the low-load window
    burst_gap_s: float  # the quiet pause before the burst


# 400/s is a target's rate (p99 at most 100 ms there), so the sweep measures it.
FULL = Plan((100, 400, 1000, 2000), 3.0, 15.0, 10.0, 15.0, 3000, 40_000, POOL, 20.0, 3.0, 50, 2.0)
QUICK = Plan((100,), 1.0, 2.0, 10.0, 2.0, 300, 300, 200, 4.0, 1.0, 50, 1.0)
LOW_RATE = 1.0


def say(text: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- measuring a step ------------------------------------------------------------------------------


def kafka_pid(bootstrap: str) -> int | None:
    status = LocalKafka(progress=lambda _: None).status()
    return status.pid if status.running and status.bootstrap == bootstrap else None


# -- the two pipelines -----------------------------------------------------------------------------


class Run:
    """Shared state of one invocation: settings, key material, record shapes and the step results."""

    shape: Shape  # what one return becomes, measured once the run has its keys (``main_async``)

    def __init__(self, bootstrap: str, kafka_pid: int | None, plan: Plan, tmp: Path) -> None:
        self.bootstrap = bootstrap
        self.plan = plan
        self.tmp = tmp
        self.registry = SchemaRegistry.load()
        self.deployment = make_deployment(self.registry, tmp / "keys")
        self.kafka_pid = kafka_pid
        self.profile_dir: Path | None = None
        self.connector_env = service_env("JIGSAW_CONNECTOR__", {"keys": {"passphrase": passphrase()}})

    # ---- Jigsaw
    def connector_args(self, prefix: str, d: Path, *load: str) -> list[str]:
        return [
            "-m",
            "bench.kit.connector",
            "--bootstrap",
            self.bootstrap,
            "--prefix",
            prefix,
            "--keys",
            str(self.deployment.keys.dir),
            "--state",
            str(d / "connector"),
            "--out",
            str(d / "sent.txt"),
            "--pool",
            str(self.plan.pool),
            *load,
        ]

    async def jigsaw_setup(self, prefix: str) -> tuple[KafkaSettings, Topics, dict[Any, int]]:
        kafka, topics = kafka_settings(self.bootstrap, prefix), Topics(prefix)
        await create_topics(kafka, topics, self.deployment)
        await publish_setup(kafka, topics, self.deployment, pool_ids(prefix, self.plan.pool))
        ends = await end_offsets(kafka, [topics.referrals, topics.assignments])
        return kafka, topics, ends

    def broker_envs(self, kafka: KafkaSettings, d: Path) -> dict[str, dict[str, str]]:
        """Each broker instance's name and environment: here one, on its SQLite store under ``d``."""
        return {"broker": self.deployment.service_env("broker", kafka, d)}

    def broker_caught_up(self, d: Path, ends: dict[Any, int]) -> Callable[[], bool]:
        return caught_up(d / "broker.sqlite", ends)

    async def broker_and_hub(self, prefix: str, d: Path, updates: str, run: str) -> list[Child]:
        """The real broker (each instance of it) and the measured hub, last; ``run`` tells their logs apart
        when started again."""
        kafka = kafka_settings(self.bootstrap, prefix)
        stages = [
            await spawn(name, BROKER_ARGS, d / f"{name}{run}.log", broker_env)
            for name, broker_env in self.broker_envs(kafka, d).items()
        ]
        return [*stages, await self.spawn_hub(prefix, d, updates, run)]

    async def spawn_hub(self, prefix: str, d: Path, updates: str, run: str) -> Child:
        """The measured hub, noting each view update in ``d / updates``."""
        kafka = kafka_settings(self.bootstrap, prefix)
        return await spawn(
            "hub",
            ["-m", "bench.kit.hub", "--updates", str(d / updates)],
            d / f"hub{run}.log",
            self.deployment.service_env("hub", kafka, d, subscriber=HUB_SUBSCRIBER, api_port=0),
        )

    async def setup_applied(self, d: Path, topics: Topics, ends: dict[Any, int]) -> None:
        await wait_until(self.broker_caught_up(d, ends), 120, "the broker to apply the assignments")
        # The hub hears of the setup's decisions through its releases, which the broker has now published.
        kafka = kafka_settings(self.bootstrap, topics.prefix)
        hub_ends = await end_offsets(kafka, [topics.release(HUB_SUBSCRIBER)])
        await wait_until(
            caught_up(d / f"hub-{HUB_SUBSCRIBER}.sqlite", hub_ends), 120, "the hub to apply the setup"
        )

    async def jigsaw_step(self, rate: int) -> dict[str, Any]:
        load = (
            "--rate",
            str(rate),
            "--warmup",
            str(self.plan.warmup_s),
            "--duration",
            str(self.plan.duration_s),
        )
        return await self._jigsaw_run(
            f"at {rate}/s",
            load,
            lambda children, d, prefix: self.measure("jigsaw", rate, children, d, prefix),
        )

    def low_load_args(self) -> tuple[str, ...]:
        plan = self.plan
        return (
            *("--rate", str(LOW_RATE), "--warmup", str(plan.low_warmup_s), "--duration", str(plan.low_s)),
            *("--burst", str(plan.burst), "--burst-gap", str(plan.burst_gap_s)),
        )

    async def jigsaw_low_load(self) -> dict[str, Any]:
        return await self._jigsaw_run(
            "at low load",
            self.low_load_args(),
            lambda children, d, _: self.measure_low("jigsaw", children, d),
        )

    async def _jigsaw_run(
        self,
        label: str,
        load: tuple[str, ...],
        measure: Callable[[list[Child], Path, str], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """Fresh topics and processes for one of Jigsaw's measured steps, driven by ``load``."""
        prefix = new_prefix("e2e")
        d = self.tmp / prefix
        say(f"jigsaw {label}: topics, keys and {self.plan.pool} assigned referrals")
        kafka, topics, ends = await self.jigsaw_setup(prefix)
        say("jigsaw: starting connector, broker and hub processes")
        stages = await self.broker_and_hub(prefix, d, "updates.txt", "")
        connector = await spawn(
            "connector", self.connector_args(prefix, d, *load), d / "connector.log", self.connector_env
        )
        children = [connector, *stages]
        try:
            await asyncio.gather(stages[-1].expect("ready"), connector.expect("ready"))
            await self.setup_applied(d, topics, ends)
            return await measure(children, d, prefix)
        finally:
            await asyncio.gather(*(c.stop() for c in children))
            await drop_topics(kafka, prefix)

    async def jigsaw_saturation(self, n: int) -> dict[str, Any]:
        prefix = new_prefix("e2e")
        d = self.tmp / prefix
        say(f"jigsaw saturation: {n} returns queued on the intel topic, then broker and hub drain them")
        kafka, topics, ends = await self.jigsaw_setup(prefix)
        try:
            # Broker and hub apply the setup first, and stop: the backlog is then returns alone.
            stages = await self.broker_and_hub(prefix, d, "setup.txt", "")
            try:
                await self.setup_applied(d, topics, ends)
            finally:
                await asyncio.gather(*(c.stop() for c in stages))
            connector = await spawn(
                "connector",
                self.connector_args(prefix, d, "--preload", str(n)),
                d / "connector.log",
                self.connector_env,
            )
            preload = await self.preload(connector)
            stages = await self.broker_and_hub(prefix, d, "updates.txt", "2")
            return await self.drain("jigsaw", n, stages, d, preload)
        finally:
            await drop_topics(kafka, prefix)

    # ---- plain
    def plain_args(self, role: str, prefix: str, d: Path, *more: str) -> list[str]:
        return ["-m", "bench.kit.plain", role, "--bootstrap", self.bootstrap, "--prefix", prefix, *more]

    async def plain_topics(self, prefix: str) -> KafkaSettings:
        kafka = kafka_settings(self.bootstrap, prefix)
        names = ["jigsaw.intel.police.v1", *{s for s, _ in self.shape.outputs}]
        await ensure_topics(kafka, [TopicSpec(TopicName(f"{prefix}.{n}"), PARTITIONS) for n in names])
        return kafka

    def plain_children(self, prefix: str, d: Path) -> list[Awaitable[Child]]:
        outputs = json.dumps(self.shape.outputs)
        sub = HUB_SUBSCRIBER
        return [
            spawn("relay", self.plain_args("relay", prefix, d, "--outputs", outputs), d / "relay.log"),
            spawn(
                "sink",
                self.plain_args(
                    "sink",
                    prefix,
                    d,
                    *("--subscriber", f"{sub}", "--updates", str(d / "updates.txt")),
                    *("--db", str(d / "sink.sqlite")),
                ),
                d / "sink.log",
            ),
        ]

    def source_args(self, prefix: str, d: Path, *load: str) -> list[str]:
        return self.plain_args(
            "source",
            prefix,
            d,
            *("--pool", str(self.plan.pool), "--size", str(self.shape.intel_bytes)),
            *("--out", str(d / "sent.txt"), *load),
        )

    async def plain_step(self, rate: int) -> dict[str, Any]:
        prefix = new_prefix("plain")
        d = self.tmp / prefix
        d.mkdir(parents=True)
        say(f"plain at {rate}/s: starting source, relay and sink processes")
        kafka = await self.plain_topics(prefix)
        relay, sink = await asyncio.gather(*self.plain_children(prefix, d))
        load = (
            "--rate",
            str(rate),
            "--warmup",
            str(self.plan.warmup_s),
            "--duration",
            str(self.plan.duration_s),
        )
        source = await spawn("source", self.source_args(prefix, d, *load), d / "source.log")
        children = [source, relay, sink]
        try:
            await asyncio.gather(source.expect("ready"), relay.expect("ready"), sink.expect("ready"))
            return await self.measure("plain", rate, children, d, prefix)
        finally:
            await asyncio.gather(*(c.stop() for c in children))
            await drop_topics(kafka, prefix)

    async def plain_low_load(self) -> dict[str, Any]:
        prefix = new_prefix("plain")
        d = self.tmp / prefix
        d.mkdir(parents=True)
        say("plain at low load: starting source, relay and sink processes")
        kafka = await self.plain_topics(prefix)
        relay, sink = await asyncio.gather(*self.plain_children(prefix, d))
        source = await spawn("source", self.source_args(prefix, d, *self.low_load_args()), d / "source.log")
        children = [source, relay, sink]
        try:
            await asyncio.gather(source.expect("ready"), relay.expect("ready"), sink.expect("ready"))
            return await self.measure_low("plain", children, d)
        finally:
            await asyncio.gather(*(c.stop() for c in children))
            await drop_topics(kafka, prefix)

    async def plain_saturation(self, n: int) -> dict[str, Any]:
        prefix = new_prefix("plain")
        d = self.tmp / prefix
        d.mkdir(parents=True)
        say(f"plain saturation: {n} records queued on the input topic, then relay and sink drain them")
        kafka = await self.plain_topics(prefix)
        try:
            source = await spawn("source", self.source_args(prefix, d, "--preload", str(n)), d / "source.log")
            preload = await self.preload(source)
            relay, sink = await asyncio.gather(*self.plain_children(prefix, d))
            return await self.drain("plain", n, [relay, sink], d, preload)
        finally:
            await drop_topics(kafka, prefix)

    # ---- shared
    async def preload(self, source: Child) -> dict[str, Any]:
        try:
            await source.expect("ready")
            source.tell("go")
            done: dict[str, Any] = json.loads(await source.expect("done", 600))
        finally:
            await source.stop()
        return {"returns": done["published"], "publish_rate": round(done["published"] / done["drained_s"], 1)}

    async def profile(self, label: str, children: list[Child], delay_s: float | None = None) -> None:
        """With ``--profile DIR``: py-spy each process through the measured window (see ``record``)."""
        if self.profile_dir is None:
            return
        await asyncio.sleep(self.plan.warmup_s if delay_s is None else delay_s)
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        await record(self.profile_dir, label, {c.name: c.pid for c in children}, self.plan.duration_s)

    def _procs(self, children: list[Child]) -> dict[str, int]:
        procs = {c.name: c.pid for c in children}
        if self.kafka_pid is not None:
            procs["kafka"] = self.kafka_pid
        return procs

    async def measure(
        self, pipeline: str, rate: int, children: list[Child], d: Path, prefix: str
    ) -> dict[str, Any]:
        source, *_ = children
        updates = d / "updates.txt"
        sampler = Sampler(self._procs(children))
        sampler.start()
        plan = self.plan
        say(f"{pipeline} at {rate}/s: {plan.warmup_s:.0f} s warm-up, {plan.duration_s:.0f} s measured")
        source.tell("go")
        finished = asyncio.create_task(source.expect("done", plan.warmup_s + plan.duration_s + 120))
        profiling = asyncio.create_task(self.profile(f"{pipeline}-{rate}", children))
        t_start = time.monotonic()
        while not finished.done():
            await asyncio.sleep(min(3.0, plan.duration_s))
            if not finished.done():
                say(
                    f"  {time.monotonic() - t_start:5.1f} s: {count_lines(updates)} views updated{backlog(d)}"
                )
        result = json.loads(await finished)
        await profiling
        deadline = time.monotonic() + plan.drain_s
        # The hub is another process: its update file is polled.
        while count_lines(updates) < result["published"] and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)  # the hub writes its update times every 200 ms
        await sampler.stop()
        sent, got = read_sent(d / "sent.txt"), read_updates(updates)
        done = join(sent, got)
        measured = [(t0, t1) for (_, t0, p), t1 in zip(sent, done, strict=True) if p == "m"]
        w0, w1 = measured[0][0], measured[-1][0]
        in_window = sum(1 for _, t1, _ in got if w0 <= t1 <= w1)
        window_s = (w1 - w0) / 1e9
        stats = latency_stats(sent, done)
        delivered = in_window / window_s if window_s else 0.0
        other = sampler.machine(w0, w1)["other_cores"]
        say(
            f"{pipeline} at {rate}/s: delivered {delivered:.0f}/s, p50 {report.fmt(stats['p50_ms'])} ms, "
            f"p99 {report.fmt(stats['p99_ms'])} ms, {stats['not_delivered']} not delivered in time"
            f" (other jobs used {other:.2f} cores)"
        )
        return {
            "offered_per_s": rate,
            "published_per_s": round(result["measured_rate"], 1),
            "delivered_per_s": round(delivered, 1),
            "kept_up": stats["not_delivered"] == 0 and delivered >= 0.95 * rate,
            "latency": stats,
            "processes": sampler.window(w0, w1, in_window),
            "machine": sampler.machine(w0, w1),
        }

    async def deliveries(self, sent: list[tuple[str, int, str]], updates: Path) -> list[Delivery]:
        """Each return's delivery, once every return is in its view or the drain time is up. The updates
        file is read while the hub or sink appends to it, so a half-written last line means: read again."""

        def read() -> list[Delivery] | None:
            try:
                return join(sent, read_updates(updates))
            except ValueError:
                return None

        deadline = time.monotonic() + self.plan.drain_s
        # The hub or sink is another process: its updates file is polled.
        while ((done := read()) is None or not all(done)) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)  # the hub writes its update times every 200 ms
        for _ in range(10):
            if (done := read()) is not None:
                return done
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{updates} stays unreadable")

    async def measure_low(self, pipeline: str, children: list[Child], d: Path) -> dict[str, Any]:
        source, *_ = children
        plan = self.plan
        sampler = Sampler(self._procs(children))
        sampler.start()
        say(
            f"{pipeline} at low load: {LOW_RATE:.0f} return/s, {plan.low_warmup_s:.0f} s warm-up,"
            f" {plan.low_s:.0f} s measured; then {plan.burst} returns for one referral at once"
        )
        source.tell("go")
        timeout = plan.low_warmup_s + plan.low_s + plan.burst_gap_s + 120
        finished = asyncio.create_task(source.expect("done", timeout))
        t_start = time.monotonic()
        while not finished.done():
            await asyncio.wait({finished}, timeout=5.0)
            if not finished.done():
                say(f"  {time.monotonic() - t_start:5.1f} s: {count_lines(d / 'updates.txt')} views updated")
        await finished
        sent = read_sent(d / "sent.txt")
        done = await self.deliveries(sent, d / "updates.txt")
        await sampler.stop()
        # The steady window is that of phase "m", as in the load steps, so its figures compare with theirs.
        measured = [t0 for _, t0, p in sent if p == "m"]
        w0, w1 = measured[0], measured[-1]
        got = [dl[0] for (_, _, p), dl in zip(sent, done, strict=True) if dl and p != "b"]
        in_window = sum(1 for t1 in got if w0 <= t1 <= w1)
        window_s = (w1 - w0) / 1e9
        steady: dict[str, Any] = {
            "offered_per_s": LOW_RATE,
            "delivered_per_s": round(in_window / window_s, 2) if window_s else 0.0,
            "latency": latency_stats(sent, done),
            "processes": sampler.window(w0, w1, in_window),
            "machine": sampler.machine(w0, w1),
        }
        s = steady["latency"]
        say(
            f"{pipeline} at low load: p50 {report.fmt(s['p50_ms'])} ms, p99 {report.fmt(s['p99_ms'])} ms"
            f" over {s['returns']} returns"
        )
        # A burst lasts a fraction of the sampler's half second: the machine is read over the whole step.
        result: dict[str, Any] = {"steady": steady, "machine": sampler.machine(w0, sampler.samples[-1][0])}
        burst = [(t0, dl) for (_, t0, p), dl in zip(sent, done, strict=True) if p == "b"]
        if not burst:
            return result
        # The burst's returns are ranked on their own: relabelled as the measured phase, the rest not.
        as_measured = [(rid, t0, "m" if p == "b" else "-") for rid, t0, p in sent]
        first, last_sent = burst[0][0], burst[-1][0]
        views = [dl[0] for _, dl in burst if dl]
        b: dict[str, Any] = {
            "returns": len(burst),
            "referrals": len({rid for rid, _, p in sent if p == "b"}),
            "latency": latency_stats(as_measured, done),
            "publish_span_ms": round((last_sent - first) / 1e6, 2),
            "to_last_view_ms": round((max(views) - first) / 1e6, 2) if len(views) == len(burst) else None,
        }
        result["burst"] = b
        say(
            f"{pipeline} burst of {b['returns']} for one referral: p50 {report.fmt(b['latency']['p50_ms'])}"
            f" ms, p99 {report.fmt(b['latency']['p99_ms'])} ms, last view {report.fmt(b['to_last_view_ms'])}"
            f" ms after the first publish ({b['publish_span_ms']:.0f} ms to publish them)"
        )
        return result

    async def drain(
        self, pipeline: str, n: int, children: list[Child], d: Path, preload: dict[str, Any]
    ) -> dict[str, Any]:
        updates = d / "updates.txt"
        sampler = Sampler(self._procs(children))
        sampler.start()
        profiling = asyncio.create_task(self.profile(f"{pipeline}-saturated", children, delay_s=5))
        started, last = time.monotonic(), -1
        try:
            while (seen := count_lines(updates)) < n:
                if seen == last and time.monotonic() - started > 120:
                    raise TimeoutError(f"{pipeline}: the backlog stopped draining at {seen} of {n}")
                last = seen
                await asyncio.sleep(2.0)
                say(f"  {time.monotonic() - started:5.1f} s: {count_lines(updates)} of {n} views updated")
            await asyncio.sleep(0.3)
            await sampler.stop()
            await profiling
        finally:
            await asyncio.gather(*(c.stop() for c in children))
        times = sorted(t for _, t, _ in read_updates(updates))
        lo, hi = times[len(times) // 10], times[(len(times) * 9) // 10]
        count = (len(times) * 9) // 10 - len(times) // 10
        rate = count / ((hi - lo) / 1e9) if hi > lo else 0.0
        say(f"{pipeline} saturation: {rate:.0f} returns/s through to the view")
        return {
            "backlog": n,
            "throughput_per_s": round(rate, 1),
            "source": preload,
            "processes": sampler.window(lo, hi, count),
            "machine": sampler.machine(lo, hi),
        }


async def main_async(a: argparse.Namespace) -> None:
    plan = QUICK if a.quick else FULL
    if a.rates:
        plan = dataclasses.replace(plan, rates=tuple(int(r) for r in a.rates.split(",")))
    if a.duration:
        plan = dataclasses.replace(plan, duration_s=a.duration)
    if a.low_load is not None:
        plan = dataclasses.replace(plan, low_s=a.low_load)
    bootstrap = a.bootstrap
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jigsaw-e2e-") as tmp:
        run = Run(bootstrap, a.kafka_pid, plan, Path(tmp))
        run.shape = await shape(run.registry, run.deployment, Path(tmp))
        run.profile_dir = a.profile
        say(
            f"Kafka at {bootstrap}; returns of {run.shape.intel_bytes} B; per return the broker publishes"
            f" {run.shape.releases} releases and {run.shape.audits} audit records"
        )
        ours: list[dict[str, Any]] = []
        plain: list[dict[str, Any]] = []
        for rate in plan.rates:
            if a.only != "plain":
                ours.append(await run.jigsaw_step(rate))
            if a.only != "jigsaw":
                plain.append(await run.plain_step(rate))
        low: dict[str, Any] = {}
        if plan.low_s > 0:
            if a.only != "plain":
                low["jigsaw"] = await run.jigsaw_low_load()
            if a.only != "jigsaw":
                low["plain"] = await run.plain_low_load()

        def backlog(steps: list[dict[str, Any]]) -> int:
            if a.backlog:
                return int(a.backlog)
            best = max(s["delivered_per_s"] for s in steps)
            return int(min(plan.saturation_max, max(plan.saturation_min, best * plan.saturation_s)))

        if a.only or a.skip_saturation:
            # A partial run for development: print what there is, write nothing.
            for step in ours + plain:
                print(json.dumps(step))
            if low:
                print(json.dumps({"low_load": low}))
            if not a.skip_saturation:
                sat = run.jigsaw_saturation if a.only == "jigsaw" else run.plain_saturation
                print(json.dumps(await sat(backlog(ours + plain))))
            return
        sat_ours = await run.jigsaw_saturation(backlog(ours))
        sat_plain = await run.plain_saturation(backlog(plain))
        if a.keep:
            shutil.copytree(tmp, a.keep, dirs_exist_ok=True)
    result: dict[str, Any] = {
        **report.meta(),
        "kafka": "Apache Kafka 4.0.2, one KRaft node on loopback, same machine",
        "plan": plan.__dict__,
        "shape": {
            "intel_bytes": run.shape.intel_bytes,
            "releases": run.shape.releases,
            "audits": run.shape.audits,
            "outputs": run.shape.outputs,
        },
        "jigsaw": ours,
        "plain": plain,
        "saturation": {"jigsaw": sat_ours, "plain": sat_plain},
        "low_load": low,
        "ratios": {
            "saturation_ours_over_plain": round(
                sat_ours["throughput_per_s"] / sat_plain["throughput_per_s"], 3
            ),
            "p99_ours_minus_plain_ms": {
                str(o["offered_per_s"]): (
                    round(o["latency"]["p99_ms"] - p["latency"]["p99_ms"], 2)
                    if o["latency"]["p99_ms"] is not None and p["latency"]["p99_ms"] is not None
                    else None
                )
                for o, p in zip(ours, plain, strict=True)
            },
        },
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(tables(result))
    report.save("e2e", result, a.quick, a.out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one small step per pipeline: checks that it runs")
    ap.add_argument("--rates", help="comma-separated offered loads, returns per second")
    ap.add_argument("--duration", type=float, help="seconds measured per load step")
    ap.add_argument(
        "--low-load",
        type=float,
        help=f"seconds measured at {LOW_RATE:.0f} return/s before the burst (0: no low-load step)",
    )
    ap.add_argument(
        "--bootstrap", help="the local Kafka's bootstrap (default: the local Kafka, started if need be)"
    )
    ap.add_argument("--out", type=Path, help="where to write the JSON results")
    ap.add_argument("--profile", type=Path, help="py-spy each process's measured window into this folder")
    ap.add_argument("--only", choices=["jigsaw", "plain"], help="one pipeline only (prints, writes nothing)")
    ap.add_argument("--keep", type=Path, help="copy the run's files (logs, timings) here")
    ap.add_argument("--backlog", type=int, help="returns queued for the saturation step (default: sized)")
    ap.add_argument("--skip-saturation", action="store_true", help="no saturation step (writes nothing)")
    a = ap.parse_args()
    # LocalKafka runs its own event loop, so it is asked before this one starts.
    if not a.bootstrap:
        a.bootstrap = str(LocalKafka(progress=lambda _: None).up().bootstrap)
    a.kafka_pid = kafka_pid(a.bootstrap)
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
