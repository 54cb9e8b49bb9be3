"""``jigsaw demo``: the main job on the embedded defaults.

It starts the local Kafka if needed, writes a synthetic town into seven agencies' systems, creates and
publishes every participant's keys, starts the broker, a hub per subscriber, the seven connectors and the
health system's API as separate processes, opens the scenario referrals, and shows each subscriber's case
view filling in. ``--once`` then prints a summary, scans every topic for plaintext personal data, stops
everything, and exits 0 only if every scenario reached its expected views and the scan found nothing.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from devkit.localkafka import LocalKafka, client_for
from jigsaw.roster import load_roster

if TYPE_CHECKING:
    from apps.demo.run import Driver
    from apps.demo.stack import Stack
    from town.scenarios import Scenario


@click.command()
@click.option(
    "--once", is_flag=True, help="Run the scenarios, print a summary and exit (0 = all as expected)."
)
@click.option("--households", default=2_000, show_default=True, help="Size of the synthetic town.")
@click.option("--seed", default=2026, show_default=True, help="Seed for the synthetic town.")
@click.option("--dir", "run_dir", type=click.Path(path_type=Path), default=Path(".jigsaw/demo"),
              show_default=True, help="Where the demo keeps its sources, keys, state and logs.")  # fmt: skip
@click.option("--bootstrap", default=None, help="Use this Kafka instead of starting the local one.")
@click.option("--timeout", default=240.0, show_default=True, help="Seconds to wait for the scenarios.")
def demo(
    once: bool, households: int, seed: int, run_dir: Path, bootstrap: str | None, timeout: float
) -> None:
    """Run Jigsaw end to end on the embedded defaults: seven agencies, a broker, four hubs, the scenarios."""
    from apps.demo.run import Driver
    from apps.demo.stack import POLICY, Stack
    from town.scenarios import scenarios

    console = Console()
    # The tables are the output; the Kafka clients' group and subscription chatter would bury them.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    say = console.print
    if bootstrap is None:
        status = LocalKafka(progress=lambda line: say(f"[dim]{line}[/]")).up()
        bootstrap = status.bootstrap
        mode = "SCRAM-SHA-512 over TLS, ACLs on" if status.secure else "[red]INSECURE[/]"
        say(f"Kafka: pid {status.pid} at {bootstrap} ({mode})")
    # A fresh prefix per run: a demo never reads an earlier run's records, and needs no topic deletion.
    # The demo itself acts as the operator (topics, ACLs, the key directory); each service as itself.
    kafka = client_for(bootstrap, topic_prefix=f"demo-{uuid.uuid4().hex[:8]}")
    today = date.today()
    subscribers = load_roster(POLICY).subscriber_ids
    stack = Stack(run_dir.resolve(), kafka, subscribers, households, seed, today, progress=say)
    _prepare_and_start(console, stack, households)

    the_scenarios = scenarios(today)
    driver = Driver(stack, the_scenarios, console)
    ok = False
    try:
        driver.open_referrals()
        _write_run_file(stack, today, driver)
        say(f"opened {len(the_scenarios)} referrals through the {subscribers[0]} hub's API")
        ok = driver.run(timeout)
        say()
        say(driver.details())
        say(driver.summary())
        _show_hubs(console, stack, subscribers, driver.progress[0].referral_id)
        if once:
            _observed(console, stack)
            ok = _scan(console, stack, the_scenarios) and ok
        else:
            say("Running until Ctrl-C.")
            _wait_for_interrupt(stack)
    finally:
        driver.close()
        say("stopping every process")
        codes = stack.stop()
        unclean = {name: code for name, code in codes.items() if code not in (0, None)}
        if unclean:
            say(f"[red]stopped uncleanly: {unclean}; see {stack.dir / 'logs'}[/]")
            ok = False
    if once:
        say("[green]every scenario as expected[/]" if ok else "[red]not every scenario as expected[/]")
        sys.exit(0 if ok else 1)


def _prepare_and_start(console: Console, stack: Stack, households: int) -> None:
    """The town, the keys and the topics, then every process, with a progress bar for each."""
    say = console.print
    with _bar(console) as bar:
        task = bar.add_task("synthetic town", total=households)
        summary = stack.prepare(lambda done, total: bar.update(task, completed=done, total=total))
    prefix = stack.kafka.topic_prefix
    say(f"town: {summary.people:,} people in {households:,} households; topics under {prefix}")
    try:
        with _bar(console) as bar:
            task = bar.add_task("starting processes", total=None)
            stack.start(
                lambda proc, n, total: bar.update(task, completed=n, total=total, description=proc.name)
            )
    except KeyboardInterrupt:
        say("interrupted while starting: stopping every process")
        stack.stop()
        raise
    say(f"running: {', '.join(p.name for p in stack.procs)}; logs in {stack.dir / 'logs'}")


def _write_run_file(stack: Stack, today: date, driver: Driver) -> None:
    """What a person needs to find this run's records afterwards (docs/demo.md)."""
    run = {
        "bootstrap": stack.kafka.bootstrap,
        "topic_prefix": stack.kafka.topic_prefix,
        "today": today.isoformat(),
        "referrals": {p.scenario.key: p.referral_id for p in driver.progress},
    }
    (stack.dir / "run.json").write_text(json.dumps(run, indent=2))


def _show_hubs(console: Console, stack: Stack, subscribers: tuple[str, ...], referral_id: str) -> None:
    from apps.demo.run import curl_example
    from apps.demo.stack import scopes, token

    console.print("\nThe hub APIs (one per subscriber; each token sees only its own subscriber's views):")
    wide = console.width >= 120
    for sub in subscribers:
        where, who, may = (
            f"  {sub:12} {stack.hub_url(sub)}/docs",
            f"token {token(sub)}",
            ",".join(scopes(sub)),
        )
        indent = f"  {'':12} "
        console.print(
            f"{where}   {who}   scopes {may}" if wide else f"{where}\n{indent}{who}\n{indent}scopes {may}"
        )
    console.print(f"\n  {curl_example(stack, referral_id)}\n")
    if stack.prometheus is not None:
        console.print(
            f"Prometheus: {stack.prometheus.url}  ({len(stack.targets)} services scraped; alerts at"
            f" {stack.prometheus.url}/alerts; dashboards to import in deploy/grafana/)\n"
        )


def _observed(console: Console, stack: Stack) -> None:
    """The last scrape's answers, and where a test (or a person) finds the run's Prometheus data after."""
    from apps.demo import observe
    from devkit.localprom.server import SCRAPE_S

    prom = stack.prometheus
    if prom is None:
        return
    time.sleep(2 * SCRAPE_S)  # a scrape after the last case view changed
    at = time.time()
    console.print(observe.table(prom, observe.answers(prom, at), wide=console.width >= 120))
    alerts = observe.firing(prom, at)
    console.print(
        f"alerts firing: {', '.join(alerts)} (what each means: docs/runbook.md)"
        if alerts
        else "no alerts firing"
    )
    run_file = stack.dir / "run.json"
    run = json.loads(run_file.read_text())
    run["prometheus"] = {"data": str(prom.dir), "observed_at": at}
    run_file.write_text(json.dumps(run, indent=2))


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _scan(console: Console, stack: Stack, scenarios: list[Scenario]) -> bool:
    from apps.demo.scan import Needles, exposure_sync, scan_sync
    from town import sensitive_values

    values = [("personal data", v) for v in sensitive_values(stack.sources)]
    values += [("personal data", v) for s in scenarios for v in s.extra_sensitive]
    result = scan_sync(stack.kafka, Needles(values))
    console.print(
        f"plaintext scan: {result.records:,} records ({result.bytes:,} bytes) on {result.topics} topics, "
        f"{result.needles:,} personal values looked for: {len(result.hits)} found"
    )
    for hit in result.hits[:20]:
        console.print(f"[red]  {hit.topic}[{hit.partition}]@{hit.offset} {hit.where}: {hit.kind}[/]")
    if not stack.kafka.uses_sasl:
        console.print("[yellow]insecure Kafka: anyone on the network could read every topic[/]")
        return False
    seen = exposure_sync(stack.outsider(), result.names)
    console.print(
        f"an authenticated principal with no grants: {seen.listed} of {seen.topics} topics listed, "
        f"{seen.records} records read, {seen.refused} fetches refused"
    )
    return not result.hits and seen.listed == 0 and seen.records == 0 and seen.refused == seen.topics


def _wait_for_interrupt(stack: Stack) -> None:
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.is_set():
            failed = stack.failed()
            if failed:
                raise click.ClickException(f"{failed[0].name} stopped:\n{failed[0].tail()}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
