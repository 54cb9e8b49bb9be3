"""The cost of TLS and SCRAM: bench.e2e's two pipelines on the secured local Kafka and on an insecure one.

    .venv/bin/python -m bench.transport                  # rates 100,300, 8 s each, on both (about 4 minutes)
    .venv/bin/python -m bench.transport --quick          # bench.e2e --quick on both: checks that it all runs

The secured node is the default local Kafka (``jigsaw kafka up``: SCRAM-SHA-512 over TLS, ACLs), started or
found. A second, insecure node (plaintext, no authentication, no ACLs, the same 512 MB heap) is started in
a temporary home and stopped at the end. Both are one KRaft node on loopback. ``python -m bench.e2e`` then
runs once per node, as a subprocess with the same arguments: the Jigsaw pipeline and its plain aiokafka
baseline, each load step and the saturation step. Every process of a run finds its node's settings through
``JIGSAW_LOCALKAFKA__HOME``: the insecure run's child gets the temporary home, the secured run's gets none.
Each node first carries a short unmeasured run, so that neither JVM is measured cold. The secured run
goes first; the two runs are minutes apart, so the machine's load can differ between them. Prints both
runs side by side with the ratios secured/insecure, and writes bench/results/transport.json (``--quick``:
transport-quick.json, or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.kit import report
from devkit.localkafka import KafkaStatus, LocalKafka, LocalKafkaSettings

REPO = Path(__file__).resolve().parents[1]
HOME_VAR = "JIGSAW_LOCALKAFKA__HOME"
# Settings that would point a process at another node than the one meant: the secured run must be the
# default node, and the insecure one only what its home says.
NODE_VARS = (HOME_VAR, "JIGSAW_LOCALKAFKA__INSECURE", "JIGSAW_LOCALKAFKA__PORT")
TRANSPORTS = ("secured", "insecure")
PIPELINES = ("jigsaw", "plain")
MIDDLE = {"jigsaw": "broker", "plain": "relay"}


def say(text: str) -> None:
    print(f"[transport {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_e2e(transport: str, node: KafkaStatus, home: Path | None, e2e_args: list[str], out: Path) -> int:
    """``python -m bench.e2e`` against ``node``, its output streamed with the transport's name before it."""
    env = {k: v for k, v in os.environ.items() if k not in NODE_VARS}
    if home is not None:
        env[HOME_VAR] = str(home)
    cmd = [
        sys.executable,
        "-m",
        "bench.e2e",
        *e2e_args,
        # The transports are compared under load; bench.e2e's low-load step would add a minute to each run.
        *("--low-load", "0"),
        "--bootstrap",
        str(node.bootstrap),
        "--out",
        str(out),
    ]
    say(f"{transport}: {' '.join(cmd[1:])}" + (f" with {HOME_VAR}={home}" if home else ""))
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  {transport:>8} | {line.rstrip()}", flush=True)
        rc = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: do not leave the child and its pipeline running
            proc.terminate()
            proc.wait()
    say(f"{transport}: bench.e2e exited {rc} after {time.monotonic() - started:.0f} s")
    return rc


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def cpu_s(step: dict[str, Any], name: str) -> float | None:
    proc = step["processes"].get(name)
    return None if proc is None else proc["cpu_s"]


def ratios(res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sec, ins = res["secured"], res["insecure"]
    out: dict[str, Any] = {}
    for pipeline in PIPELINES:
        steps = {}
        for s, i in zip(sec[pipeline], ins[pipeline], strict=True):
            steps[str(s["offered_per_s"])] = {
                "delivered": ratio(s["delivered_per_s"], i["delivered_per_s"]),
                "p99": ratio(s["latency"]["p99_ms"], i["latency"]["p99_ms"]),
                "kafka_cpu": ratio(cpu_s(s, "kafka"), cpu_s(i, "kafka")),
            }
        sat = sec["saturation"][pipeline]["throughput_per_s"], ins["saturation"][pipeline]["throughput_per_s"]
        out[pipeline] = {"steps": steps, "saturation": ratio(*sat)}
    return out


def table(res: dict[str, dict[str, Any]], rat: dict[str, Any]) -> str:
    f = report.fmt
    head = (
        f"{'offered/s':>9} {'pipeline':<8} {'transport':<9} | {'deliv/s':>7} {'p50':>7} {'p99':>7} |"
        f" {'kafka cpu s':>11} {'brk/relay s':>11} {'others':>6}"
    )
    out = ["\nbench.e2e on each transport; latency in ms, CPU seconds over the measured window", head]
    for k, rate in enumerate(step["offered_per_s"] for step in res["secured"]["jigsaw"]):
        for pipeline in PIPELINES:
            for transport in TRANSPORTS:
                s = res[transport][pipeline][k]
                lat = s["latency"]
                out.append(
                    f"{rate:>9} {pipeline:<8} {transport:<9} | {s['delivered_per_s']:>7.0f}"
                    f" {f(lat['p50_ms']):>7} {f(lat['p99_ms']):>7} | {f(cpu_s(s, 'kafka'), '.2f'):>11}"
                    f" {f(cpu_s(s, MIDDLE[pipeline]), '.2f'):>11} {s['machine']['other_cores']:>6.2f}"
                )
    out.append("  (- : the quantile fell on returns not delivered by the end of the drain: overloaded)")
    out.append(
        f"\nsecured / insecure\n{'offered/s':>9} {'pipeline':<8} | {'deliv/s':>7} {'p99':>7} {'kafka cpu':>9}"
    )
    for pipeline in PIPELINES:
        for rate, r in rat[pipeline]["steps"].items():
            out.append(
                f"{rate:>9} {pipeline:<8} | {f(r['delivered'], '.3f'):>7} {f(r['p99'], '.3f'):>7}"
                f" {f(r['kafka_cpu'], '.3f'):>9}"
            )
    out.append(f"\nsaturation, returns/s through to the view\n{'pipeline':<8} | secured insecure  ratio")
    for pipeline in PIPELINES:
        sat = [res[t]["saturation"][pipeline]["throughput_per_s"] for t in TRANSPORTS]
        out.append(
            f"{pipeline:<8} | {sat[0]:>7.0f} {sat[1]:>8.0f} {f(rat[pipeline]['saturation'], '.3f'):>6}"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="bench.e2e --quick on each node: checks that it runs"
    )
    ap.add_argument("--rates", help="comma-separated offered loads, returns per second (default 100,300)")
    ap.add_argument("--duration", type=float, help="seconds measured per load step (default 8)")
    ap.add_argument("--out", type=Path, help="where to write the JSON results")
    a = ap.parse_args()
    if a.quick:
        e2e_args = ["--quick", *(["--rates", a.rates] if a.rates else [])]
        e2e_args += ["--duration", str(a.duration)] if a.duration else []
    else:
        e2e_args = ["--rates", a.rates or "100,300", "--duration", str(a.duration or 8)]
    # The secured node is the default one whatever this shell points at; LocalKafka reads the environment.
    for var in NODE_VARS:
        if os.environ.pop(var, None) is not None:
            say(f"ignoring {var} from the environment: the secured run uses the default local Kafka")
    started = time.monotonic()
    secured = LocalKafka(progress=lambda m: say(f"secured Kafka: {m}")).up()
    if not secured.secure:
        raise SystemExit("the default local Kafka is running --insecure: `jigsaw kafka down` it first")
    results: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jigsaw-transport-") as tmp:
        home = Path(tmp) / "kafka"
        insecure_kafka = LocalKafka(
            LocalKafkaSettings(home=home, insecure=True, heap_mb=512, port=0),
            progress=lambda m: say(f"insecure Kafka: {m}"),
        )
        try:
            insecure = insecure_kafka.up()
            pairs = (("secured", secured, None), ("insecure", insecure, home))
            if not a.quick:
                # A JVM just started runs its first minute partly interpreted, and one node may be fresh
                # and the other warm: both first carry a short unmeasured run (which writes nothing).
                for transport, node, node_home in pairs:
                    warm = ["--quick", "--skip-saturation"]
                    run_e2e(f"{transport} warm-up", node, node_home, warm, Path(tmp) / "warm.json")
            for transport, node, node_home in pairs:
                nodes[transport] = {"bootstrap": node.bootstrap, "pid": node.pid, "secure": node.secure}
                out = Path(tmp) / f"{transport}.json"
                if run_e2e(transport, node, node_home, e2e_args, out) != 0 or not out.exists():
                    failed.append(transport)
                    continue
                results[transport] = json.loads(out.read_text())
        finally:
            insecure_kafka.down()
    if failed:
        raise SystemExit(f"bench.e2e failed on the {' and '.join(failed)} node; nothing written")
    rat = ratios(results)
    result: dict[str, Any] = {
        **report.meta(),
        "kafka": "Apache Kafka 4.0.2, two single KRaft nodes on loopback, same machine, 512 MB heap each",
        "e2e_args": e2e_args,
        "nodes": nodes,
        "ratios_secured_over_insecure": rat,
        **results,
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(table(results, rat))
    report.save("transport", result, a.quick, a.out)


if __name__ == "__main__":
    main()
