"""The pipelines on a 3-node Kafka cluster: the plain baseline, and Jigsaw with one broker and with two.

    .venv/bin/python -m bench.cluster                  # rates 50,100, 8 s each, and saturation (about 6 min)
    .venv/bin/python -m bench.cluster --quick          # one small step of each kind, cold (2 minutes)

A 3-node KRaft cluster (each node broker and controller, 384 MB heap, secured as ``jigsaw kafka up`` is;
topics of 3 replicas, min ISR 2) is started in a temporary home and stopped at the end; every process finds
it through ``JIGSAW_LOCALKAFKA__HOME``. On it, ``bench.e2e``'s load steps and a saturation step run for four
pipelines, each step on fresh topics and processes, each rate for all four in turn:

- plain: ``bench.e2e``'s baseline, the same hops with plain aiokafka (source, relay, sink);
- Jigsaw with one broker instance on its SQLite store (the default);
- Jigsaw with one broker instance on the shared PostgreSQL store (``jigsaw pg``'s local server, started or
  found, and stopped at the end if this run started it), in a schema of its own per step, dropped at the end;
- Jigsaw with two broker instances in one consumer group on that store. The range assignor gives one of
  them partitions 0 and 1 of each input topic and the other partition 2. The second instance starts once
  the first has applied the setup, and the step waits until each holds partitions.

Jigsaw's saturation step differs from ``bench.e2e``'s: the broker instances keep running from the setup on,
and the backlog is published at once while they run, so that no rebalance falls in the drain. The plain
pipeline's is ``bench.e2e``'s (its relay would keep up with a backlog being published). A step measures each
broker instance, the PostgreSQL server process serving each instance's session, the hub and the three
Kafka nodes. The JVMs first carry an unmeasured plain step, for the minute they take to warm up. Prints the
tables and writes bench/results/cluster.json (``--quick``: cluster-quick.json, or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.e2e import BROKER_ARGS, FULL, QUICK, Plan, Run
from bench.kit import report
from bench.kit.latency import read_sent, read_updates
from bench.kit.procs import Child, spawn
from bench.kit.shape import shape
from bench.kit.stores import pg_backends, pg_caught_up, pg_drop, pg_owners, wait_until
from bench.kit.world import PARTITIONS, drop_topics, kafka_settings, new_prefix
from devkit.localkafka import LocalKafka, LocalKafkaSettings
from devkit.localpg import LocalPostgres
from jigsaw.bus.reader import end_offsets
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics

HOME_VAR = "JIGSAW_LOCALKAFKA__HOME"
# Settings that would point a process at another Kafka than the cluster: every process reads its home only.
NODE_VARS = (HOME_VAR, "JIGSAW_LOCALKAFKA__INSECURE", "JIGSAW_LOCALKAFKA__PORT", "JIGSAW_LOCALKAFKA__NODES")
NODES, HEAP_MB = 3, 384
WARM_S = 90.0  # the three JVMs burn more than a core for about their first minute under load
BROKER_APP = "jigsaw broker@"  # the start of a broker instance's PostgreSQL application name


@dataclass(frozen=True)
class Pipeline:
    key: str
    label: str
    store: str | None  # None: the plain baseline
    instances: int = 1


PIPELINES = (
    Pipeline("plain", "plain (relay)", None),
    Pipeline("sqlite-1", "Jigsaw, SQLite, 1 broker", "sqlite"),
    Pipeline("postgres-1", "Jigsaw, PostgreSQL, 1 broker", "postgres"),
    Pipeline("postgres-2", "Jigsaw, PostgreSQL, 2 brokers", "postgres", 2),
)
# No low-load step; a smaller pool of referrals than bench.e2e's, so that each step's setup is quick. 50/s is
# below the saturation of every Jigsaw pipeline here, 100/s above that of one broker on PostgreSQL.
CLUSTER = dataclasses.replace(
    FULL,
    rates=(50, 100),
    duration_s=8.0,
    pool=500,
    low_s=0.0,
    saturation_s=10.0,
    saturation_min=1000,
    saturation_max=10_000,
)
CLUSTER_QUICK = dataclasses.replace(QUICK, low_s=0.0)


def say(text: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {text}", flush=True)


def instance_name(k: int) -> str:
    return "broker" if k == 0 else f"broker-{k + 1}"


class ClusterRun(Run):
    """``bench.e2e``'s run with the broker as ``pipeline`` has it: on SQLite or PostgreSQL, one or more
    instances; and each step's processes measured with the cluster's nodes and the PostgreSQL sessions."""

    def __init__(self, bootstrap: str, nodes: dict[str, int], plan: Plan, tmp: Path, pg_url: str) -> None:
        super().__init__(bootstrap, None, plan, tmp)
        self.nodes = nodes
        self.pg_url = pg_url  # carries the password: never printed
        self.pipeline = PIPELINES[0]
        self.schemas: set[str] = set()

    @property
    def on_pg(self) -> bool:
        return self.pipeline.store == "postgres"

    @staticmethod
    def schema(d: Path) -> str:
        """A step's PostgreSQL schema: its topic prefix (``d``'s name), as an identifier."""
        return d.name.replace("-", "_")

    def broker_env(self, kafka: KafkaSettings, d: Path) -> dict[str, str]:
        """A broker instance's environment; on PostgreSQL, every instance's is the same: one consumer
        group, keystore, policy and store."""
        if not self.on_pg:
            return self.deployment.service_env("broker", kafka, d)
        self.schemas.add(schema := self.schema(d))
        store = {"url": self.pg_url, "schema_name": schema}
        return self.deployment.service_env("broker", kafka, d, store=store)

    def broker_envs(self, kafka: KafkaSettings, d: Path) -> dict[str, dict[str, str]]:
        return {instance_name(0): self.broker_env(kafka, d)}  # the others: see ``broker_and_hub``

    def broker_caught_up(self, d: Path, ends: dict[Any, int]) -> Callable[[], bool]:
        if not self.on_pg:
            return super().broker_caught_up(d, ends)
        return pg_caught_up(self.pg_url, self.schema(d), ends)

    async def broker_and_hub(self, prefix: str, d: Path, updates: str, run: str) -> list[Child]:
        """The broker instances and the hub, last. With two or more, the first applies the setup alone
        and the others join its group once it is idle: an instance whose partitions are revoked while it
        holds records already fetched for them stops on the store's fence (see docs/performance.md)."""
        stages = await super().broker_and_hub(prefix, d, updates, run)
        if self.pipeline.instances == 1:
            return stages
        try:
            kafka, topics = kafka_settings(self.bootstrap, prefix), Topics(prefix)
            ends = await end_offsets(kafka, [topics.referrals, topics.assignments])
            await wait_until(
                self.broker_caught_up(d, ends), 120, "the first broker instance to apply the setup"
            )
            for k in range(1, self.pipeline.instances):
                name = instance_name(k)
                stages.insert(
                    k, await spawn(name, BROKER_ARGS, d / f"{name}{run}.log", self.broker_env(kafka, d))
                )

            def shared() -> bool:
                owners = {o for _, o, _ in pg_owners(self.pg_url, self.schema(d)).values()}
                return len(owners) >= self.pipeline.instances

            await wait_until(shared, 120, "every broker instance to hold partitions")
        except BaseException:
            await asyncio.gather(*(c.stop() for c in stages))
            raise
        return stages

    async def jigsaw_saturation(self, n: int) -> dict[str, Any]:
        """``Run.jigsaw_saturation``, but the broker instances keep running from the setup on, so no group
        rebalance falls in the drain: the backlog is published at once (several times faster than the
        broker clears it) while they and a fresh hub run."""
        prefix = new_prefix("e2e")
        d = self.tmp / prefix
        say(f"jigsaw saturation: the brokers running, {n} returns published at once on the intel topic")
        kafka, topics, ends = await self.jigsaw_setup(prefix)
        children: list[Child] = []
        try:
            children += await self.broker_and_hub(prefix, d, "setup.txt", "")
            await self.setup_applied(d, topics, ends)
            await children.pop().stop()  # the setup's hub: the measured one notes the backlog's views alone
            children.append(hub := await self.spawn_hub(prefix, d, "updates.txt", "2"))
            await hub.expect("ready")
            args = self.connector_args(prefix, d, "--preload", str(n))
            connector = await spawn("connector", args, d / "connector.log", self.connector_env)
            draining = asyncio.create_task(self.drain("jigsaw", n, children[:], d, {}))
            children.append(connector)
            try:
                preload = await self.preload(connector)
            except BaseException:
                draining.cancel()
                raise
            return await draining | {"source": preload}
        finally:
            await asyncio.gather(*(c.stop() for c in children))
            await drop_topics(kafka, prefix)

    def backends(self, children: list[Child]) -> dict[str, int]:
        """The PostgreSQL server process of each broker instance's session, as ``pg:<instance>``."""
        brokers = {c.pid: c.name for c in children if c.name.startswith("broker")}
        out: dict[str, int] = {}
        for pid, app in pg_backends(self.pg_url, BROKER_APP):
            name = brokers.get(int(app.rpartition(":")[2] or 0))
            if name is not None:
                out[f"pg:{name}" + (f"#{pid}" if f"pg:{name}" in out else "")] = pid
        return out

    def _procs(self, children: list[Child]) -> dict[str, int]:
        procs = {c.name: c.pid for c in children} | self.nodes
        return procs | (self.backends(children) if self.on_pg else {})

    def held(self, result: dict[str, Any], children: list[Child], d: Path, window_ns: int) -> dict[str, Any]:
        """``result`` with the input partitions each instance held at the end, how many claims the store
        saw (one per partition each time an instance is assigned it), and how long before the measured
        window (which starts at ``window_ns``) the last claim was: negative, a rebalance fell inside it."""
        if not self.on_pg:
            return result
        names = {c.pid: c.name for c in children}
        owners = pg_owners(self.pg_url, self.schema(d)).values()
        held: dict[str, int] = {}
        for _, owner, _ in owners:
            name = names.get(int(owner.rpartition(":")[2]), "an earlier instance")
            held[name] = held.get(name, 0) + 1
        last = max(at for _, _, at in owners)
        return result | {
            "partitions_held": held,
            "claims": sum(g for g, _, _ in owners),
            "last_claim_before_window_s": round(window_ns / 1e9 - last, 2),
        }

    async def measure(
        self, pipeline: str, rate: int, children: list[Child], d: Path, prefix: str
    ) -> dict[str, Any]:
        result = await super().measure(pipeline, rate, children, d, prefix)
        window = min(t for _, t, phase in read_sent(d / "sent.txt") if phase == "m")
        return self.held(result, children, d, window)

    async def drain(
        self, pipeline: str, n: int, children: list[Child], d: Path, preload: dict[str, Any]
    ) -> dict[str, Any]:
        if self.on_pg:  # each instance's PostgreSQL session is measured: wait until it is open
            wanted = self.pipeline.instances
            await wait_until(lambda: len(self.backends(children)) >= wanted, 60, "the brokers' sessions")
        result = await super().drain(pipeline, n, children, d, preload)
        # The saturated window starts at the tenth of the backlog's views (see ``Run.drain``).
        times = sorted(t for _, t, _ in read_updates(d / "updates.txt"))
        return self.held(result, children, d, times[len(times) // 10])

    async def step(self, rate: int) -> dict[str, Any]:
        return await (self.jigsaw_step(rate) if self.pipeline.store else self.plain_step(rate))

    async def saturation(self, n: int) -> dict[str, Any]:
        return await (self.jigsaw_saturation(n) if self.pipeline.store else self.plain_saturation(n))


# -- figures ---------------------------------------------------------------------------------------


def total(step: dict[str, Any], prefix: str, key: str = "cpu_ms_per_return") -> float | None:
    """The sum of ``key`` over the processes whose name starts with ``prefix``."""
    values = [p[key] for n, p in step["processes"].items() if n.startswith(prefix) and p[key] is not None]
    return round(sum(values), 3) if values else None


def middle(p: Pipeline) -> str:
    return "broker" if p.store else "relay"


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def ratios(res: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    sat = {k: v["saturation"]["throughput_per_s"] for k, v in res.items()}
    return {
        "postgres_2_over_postgres_1": ratio(sat["postgres-2"], sat["postgres-1"]),
        "postgres_1_over_sqlite_1": ratio(sat["postgres-1"], sat["sqlite-1"]),
        **{f"{k}_over_plain": ratio(sat[k], sat["plain"]) for k in res if k != "plain"},
    }


def table(res: dict[str, dict[str, Any]], rat: dict[str, float | None]) -> str:
    f = report.fmt
    rates = [s["offered_per_s"] for s in res["plain"]["steps"]]
    out = [
        f"\n{NODES}-node Kafka cluster (3 replicas, min ISR 2); latency in ms from a return handed to the"
        " connector to the hub's view (the sink's, for plain)",
        f"{'pipeline':<29} | {'saturated/s':>11} |"
        + "".join(f" {f'{r}/s: deliv':>12} {'p50':>6} {'p99':>6} |" for r in rates),
    ]
    for p in PIPELINES:
        r = res[p.key]
        line = f"{p.label:<29} | {r['saturation']['throughput_per_s']:>11.0f} |"
        for s in r["steps"]:
            lat = s["latency"]
            line += f" {s['delivered_per_s']:>12.0f} {f(lat['p50_ms']):>6} {f(lat['p99_ms']):>6} |"
        out.append(line)
    out.append("  (- : the quantile fell on returns not in a view by the end of the drain: overloaded)")
    out.append(
        "\nCPU ms per return over each window (cores used): the broker instances (the relay, for plain),"
        " each instance's PostgreSQL session, the hub (sink), the three Kafka nodes; other jobs' cores"
    )
    out.append(
        f"{'pipeline':<29} {'load':>9} | {'broker':>13} {'per instance':>13} | {'PostgreSQL':>12} |"
        f" {'hub':>12} | {'Kafka':>12} | {'others':>6}"
    )
    for p in PIPELINES:
        r = res[p.key]
        for load, s in [
            *zip((f"{x}/s" for x in rates), r["steps"], strict=True),
            ("saturated", r["saturation"]),
        ]:

            def cell(prefix: str, s: dict[str, Any] = s) -> str:
                ms, util = total(s, prefix), total(s, prefix, "cpu_util")
                return "-" if ms is None else f"{ms:.2f} ({f(util, '.2f')})"

            each = [
                f(v["cpu_ms_per_return"], ".2f") for n, v in s["processes"].items() if n.startswith("broker")
            ]
            out.append(
                f"{p.label:<29} {load:>9} | {cell(middle(p)):>13} {' / '.join(each) or '-':>13} |"
                f" {cell('pg:'):>12} | {cell('hub' if p.store else 'sink'):>12} | {cell('kafka-'):>12} |"
                f" {s['machine']['other_cores']:>6.2f}"
            )
    out.append("\ninput partitions held by each broker instance at the end of each step, and the last claim")
    for s in [*res["postgres-2"]["steps"], res["postgres-2"]["saturation"]]:
        load = f"{s['offered_per_s']}/s" if "offered_per_s" in s else "saturated"
        out.append(
            f"  {load:>9}: {s.get('partitions_held')}, {s.get('claims')} claims in all, the last"
            f" {f(s.get('last_claim_before_window_s'), '.1f')} s before the measured window"
        )
    out.append(
        f"saturation: PostgreSQL 2 brokers / 1 broker {f(rat['postgres_2_over_postgres_1'], '.3f')};"
        f" PostgreSQL / SQLite, 1 broker {f(rat['postgres_1_over_sqlite_1'], '.3f')};"
        f" SQLite 1 broker / plain {f(rat['sqlite-1_over_plain'], '.3f')}"
    )
    return "\n".join(out)


# -- the run ---------------------------------------------------------------------------------------


async def main_async(run: ClusterRun, plan: Plan, tmp: Path, warm: bool) -> dict[str, dict[str, Any]]:
    run.shape = await shape(run.registry, run.deployment, tmp)
    say(
        f"Kafka at {run.bootstrap}; returns of {run.shape.intel_bytes} B; per return the broker publishes"
        f" {run.shape.releases} releases and {run.shape.audits} audit records"
    )
    if warm:
        # A fresh cluster's nodes burn more than a core for about their first minute: a plain step first.
        run.plan = dataclasses.replace(plan, warmup_s=1.0, duration_s=WARM_S)
        say("warm-up, not measured")
        await run.step(max(plan.rates))
        run.plan = plan
    res: dict[str, dict[str, Any]] = {
        p.key: {"label": p.label, "store": p.store, "instances": p.instances, "steps": []} for p in PIPELINES
    }
    for rate in plan.rates:  # each rate for every pipeline in turn, so that they share the machine's hour
        for p in PIPELINES:
            run.pipeline = p
            say(f"{p.label} at {rate}/s")
            res[p.key]["steps"].append(await run.step(rate))
    for p in PIPELINES:
        run.pipeline = p
        # The plain relay clears thousands a second, far above the rates offered: the largest backlog.
        best = max(s["delivered_per_s"] for s in res[p.key]["steps"]) if p.store else plan.saturation_max
        n = int(min(plan.saturation_max, max(plan.saturation_min, best * plan.saturation_s)))
        say(f"{p.label}: saturation")
        res[p.key]["saturation"] = await run.saturation(n)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one small step per pipeline: checks that it runs")
    ap.add_argument("--rates", help="comma-separated offered loads, returns per second (default 50,100)")
    ap.add_argument("--duration", type=float, help="seconds measured per load step (default 8)")
    ap.add_argument("--out", type=Path, help="where to write the JSON results")
    ap.add_argument("--keep", type=Path, help="copy the run's files (logs, timings) here")
    a = ap.parse_args()
    plan = CLUSTER_QUICK if a.quick else CLUSTER
    if a.rates:
        plan = dataclasses.replace(plan, rates=tuple(int(r) for r in a.rates.split(",")))
    if a.duration:
        plan = dataclasses.replace(plan, duration_s=a.duration)
    for var in NODE_VARS:
        if os.environ.pop(var, None) is not None:
            say(f"ignoring {var} from the environment: this run uses a cluster of its own")
    started = time.monotonic()
    pg = LocalPostgres(progress=lambda m: say(f"PostgreSQL: {m}"))
    pg_was_up = pg.status().running
    with tempfile.TemporaryDirectory(prefix="jigsaw-cluster-") as tmp:
        home = Path(tmp) / "kafka"
        lk = LocalKafka(
            LocalKafkaSettings(home=home, nodes=NODES, heap_mb=HEAP_MB), progress=lambda m: say(f"Kafka: {m}")
        )
        run: ClusterRun | None = None
        try:
            status = lk.up()
            # This process's and every child's client settings (``client_for``) are the cluster's.
            os.environ[HOME_VAR] = str(home)
            pg_status = pg.up()
            url = pg.url()
            assert status.bootstrap is not None
            nodes = {f"kafka-{n.node_id}": n.pid for n in status.nodes if n.pid is not None}
            run = ClusterRun(status.bootstrap, nodes, plan, Path(tmp) / "run", url)
            res = asyncio.run(main_async(run, plan, Path(tmp), warm=not a.quick))
        finally:
            if a.keep and (Path(tmp) / "run").exists():
                shutil.copytree(Path(tmp) / "run", a.keep, dirs_exist_ok=True)
            if run is not None and run.schemas:
                pg_drop(run.pg_url, sorted(run.schemas))
                say(f"dropped {len(run.schemas)} PostgreSQL schemas")
            lk.down()
            if not pg_was_up:
                pg.down()
    rat = ratios(res)
    result: dict[str, Any] = {
        **report.meta(),
        "kafka": (
            f"Apache Kafka 4.0.2, {NODES} KRaft nodes on loopback (each broker and controller, {HEAP_MB} MB"
            " heap), same machine; topics of 3 replicas, min ISR 2"
        ),
        "postgres": f"PostgreSQL {pg_status.version} on loopback (jigsaw pg), same machine",
        "partitions": PARTITIONS,
        "plan": plan.__dict__,
        "shape": {
            "intel_bytes": run.shape.intel_bytes,
            "releases": run.shape.releases,
            "audits": run.shape.audits,
        },
        "pipelines": res,
        "ratios": rat,
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(table(res, rat))
    report.save("cluster", result, a.quick, a.out)


if __name__ == "__main__":
    main()
