"""The demo deployment: synthetic agency systems, keys, and every service as its own process.

One :class:`Stack` owns a run directory (sources, keys, configs, state, logs) and a topic prefix. It writes
the synthetic town, creates and publishes every participant's keys, writes each service's configuration
from the same files a real deployment uses (``deploy/connectors/*.yaml``, ``deploy/policy/``), then starts
the health system's API, the broker, one hub per subscriber and the seven connectors, each a separate OS
process with its own log file, and stops them all with SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import httpx
import yaml
from pydantic import SecretStr

from devkit.localprom import LocalPrometheus, Target
from jigsaw.access import cluster
from jigsaw.access.plan import plan
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.config import KafkaSettings, KeystoreSettings
from jigsaw.credentials import credential_path
from jigsaw.errors import ConfigError
from jigsaw.files import private_file
from jigsaw.roster import RESERVED_PRINCIPALS, Roster, load_roster
from jigsaw.service_env import service_env
from jigsaw.serving import free_port
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import issue_key_record
from jigsaw.wire.keys import Keystore, ParticipantKeys
from town.generator import Summary, generate
from town.scenarios import CSC

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "policy" / "devon-mash.yaml"
CONNECTORS = ROOT / "deploy" / "connectors"
# The demo's keystores are throwaway; a real deployment sets its own passphrase per service.
PASSPHRASE = "jigsaw-demo-only"  # noqa: S105 - throwaway demo keystores
HUB_PARTICIPANT = "hub.devon"


def hub_participant(subscriber: str) -> str:
    """The participant a subscriber's hub signs as: its desk's own, or the MASH front door's."""
    desks = {p.subscriber: pid for pid, p in load_roster(POLICY).participants.items() if p.subscriber}
    return desks.get(subscriber, HUB_PARTICIPANT)


ROOT_ID = "admin.root"
KEY_VALID_US = 365 * 86_400 * 1_000_000  # as `jigsaw keys publish` issues them
READY_S = 120.0
Progress = Callable[[str], None]


def token(subscriber: str) -> str:
    """The demo API token for a subscriber's hub (printed for the user: the demo is not a deployment)."""
    return f"demo-{subscriber}-token"


def _hash(value: str) -> str:
    # What the hub's config holds for a token (services.hub.config.token_hash): never the token itself.
    return hashlib.sha256(value.encode()).hexdigest()


def scopes(subscriber: str) -> list[str]:
    """The demo token's scopes: the MASH front door (the policy's first subscriber) does everything; every
    other subscriber's hub reads its own views and reviews what is held for it."""
    front = subscriber == CSC
    return ["read", "intake", "triage", "review", "consent"] if front else ["read", "review"]


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    ready_line: str | None = None  # a log line that says the service is up
    ready_url: str | None = None  # or an URL that answers 200
    popen: subprocess.Popen[bytes] | None = None
    _out: IO[bytes] | None = None

    def start(self, cwd: Path) -> None:
        self._out = self.log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, *self.args],
            cwd=cwd,
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children in order
        )

    def is_ready(self) -> bool:
        if self.ready_line is not None:
            try:
                return self.ready_line in self.log.read_text(errors="replace")
            except OSError:
                return False
        if self.ready_url is not None:
            try:
                return httpx.get(self.ready_url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False
        return True

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()
        finally:
            if self._out is not None:
                self._out.close()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    dir: Path
    kafka: KafkaSettings
    subscribers: tuple[str, ...]
    households: int
    seed: int
    today: date
    progress: Progress = print
    procs: list[Proc] = field(default_factory=list)
    hub_ports: dict[str, int] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    prometheus: LocalPrometheus | None = None

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka.topic_prefix)

    @property
    def sources(self) -> Path:
        return self.dir / "sources"

    @property
    def keys_dir(self) -> Path:
        return self.dir / "keys"

    def hub_url(self, subscriber: str) -> str:
        return f"http://127.0.0.1:{self.hub_ports[subscriber]}"

    # -- preparing ------------------------------------------------------------------------------------
    def prepare(self, town_progress: Callable[[int, int], None] | None = None) -> Summary:
        """A fresh run directory: the town, the keys, the topics. Returns the town's summary."""
        roster = load_roster(POLICY)
        for sub in ("sources", "keys", "state", "logs", "config", "prometheus"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
            (self.dir / sub).mkdir(parents=True)
        self.progress(f"writing the synthetic town ({self.households:,} households) to {self.sources}")
        summary = generate(self.sources, self.households, self.seed, self.today, progress=town_progress)
        self.progress("creating topics and publishing every participant's keys")
        asyncio.run(self._keys_and_topics(roster))
        return summary

    async def _keys_and_topics(self, roster: Roster) -> None:
        await ensure_topics(self.kafka, self.topics.specs(list(roster.agencies), list(roster.subscriber_ids)))
        if self.kafka.uses_sasl:
            # Each participant signs in as itself, with exactly the grants the policy implies.
            change = await asyncio.to_thread(cluster.apply, self.kafka, plan(roster, self.topics))
            self.progress(f"ACLs for {self.topics.prefix}: {len(change.add)} granted, one principal each")
            for pid in roster.participants:
                shutil.copyfile(
                    self._local_credential(pid), private_file(credential_path(self.keys_dir, pid))
                )
        store = Keystore(self.keys_dir, SecretStr(PASSPHRASE), scrypt_n=2**14)
        root = ParticipantKeys.generate(ROOT_ID, "ADMIN")
        store.save(root)
        (self.keys_dir / "root.pub").write_text(base64.b64encode(root.current.sign_public).decode() + "\n")
        people: list[tuple[str, str, str | None]] = [
            (pid, p.role, p.agency) for pid, p in roster.participants.items()
        ]
        people += [(sub, "SUBSCRIBER", None) for sub in roster.subscriber_ids]
        registry = SchemaRegistry.load()
        records = []
        for pid, role, agency in people:
            keys = ParticipantKeys.generate(pid, role, agency)
            store.save(keys)
            for gen in store.public(pid)["generations"]:
                records.append(
                    issue_key_record(
                        registry,
                        root,
                        gen,
                        participant_id=pid,
                        role=role,
                        agency=agency,
                        not_after=int(gen["created_at"]) + KEY_VALID_US,
                    )
                )
        async with Producer(self.kafka) as producer:
            for key, value in records:
                await producer.send_and_wait(self.topics.keys, value, key=key)

    def _local_credential(self, principal: str) -> Path:
        # The demo runs as the local Kafka's operator, whose credential sits among every principal's.
        if self.kafka.credentials is None:
            raise ConfigError("the demo needs the local Kafka's credentials (kafka.credentials)")
        return credential_path(self.kafka.credentials.parent, principal)

    def participant_kafka(self, participant: str) -> KafkaSettings:
        """The demo's Kafka settings as ``participant``: its credential, beside its keystore."""
        if not self.kafka.uses_sasl:
            return self.kafka
        return self.kafka.model_copy(update={"credentials": credential_path(self.keys_dir, participant)})

    def outsider(self) -> KafkaSettings:
        """A principal that signs in but is granted nothing: what the scan checks can see nothing."""
        return self.kafka.model_copy(update={"credentials": self._local_credential(RESERVED_PRINCIPALS[2])})

    # -- processes ------------------------------------------------------------------------------------
    def _env(self, prefix: str = "", values: dict[str, object] | None = None) -> dict[str, str]:
        # The demo's own settings only: a JIGSAW_ variable in the user's shell must not reach the services.
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIGSAW_")}
        return env | service_env(prefix, values or {})

    def _service_env(self, prefix: str, participant: str, values: dict[str, object]) -> dict[str, str]:
        common: dict[str, object] = {
            "kafka": self.participant_kafka(participant),
            "keys": KeystoreSettings(dir=self.keys_dir, passphrase=SecretStr(PASSPHRASE)),
            "state_dir": self.dir / "state",
            "policy": POLICY,
        }
        return self._env(prefix, common | values)

    def _connector_config(self, agency: str, health_url: str) -> Path:
        """deploy/connectors/<agency>.yaml, moved into this run's directory, Kafka and ports."""
        text = (CONNECTORS / f"{agency}.yaml").read_text(encoding="utf-8")
        raw = yaml.safe_load(text.replace(".jigsaw/demo/", f"{self.dir}/"))
        # Groups derive from the prefix, so they are per run like the topics, and are the ones the ACLs grant.
        raw["kafka"] = self.participant_kafka(raw["participant_id"]).model_dump(
            mode="json", exclude_unset=True
        )
        raw["metrics"] = {
            "host": "127.0.0.1",
            "port": self._target("jigsaw-connector", f"connector-{agency}"),
        }
        if raw["source"]["kind"] == "http":
            raw["source"]["base_url"] = health_url
        path = self.dir / "config" / f"{agency}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return path

    def _target(self, job: str, service: str) -> int:
        """A free port for ``service``'s metrics, and the target Prometheus scrapes it at."""
        port = free_port()
        self.targets.append(Target(job, service, f"127.0.0.1:{port}"))
        return port

    def plan(self) -> list[Proc]:
        logs = self.dir / "logs"
        health_port = free_port()
        health_url = f"http://127.0.0.1:{health_port}"
        broker_metrics = self._target("jigsaw-broker", "broker")
        procs = [
            Proc(
                "health system API",
                [
                    "-m",
                    "apps.cli",
                    "synth",
                    "health-api",
                    "--data",
                    str(self.sources),
                    "--port",
                    str(health_port),
                ],
                self._env(),
                logs / "health-api.log",
                ready_url=f"{health_url}/health",
            ),
            Proc(
                "broker",
                ["-m", "apps.cli", "broker", "run"],
                self._service_env("JIGSAW_BROKER__", "broker", {"metrics": {"port": broker_metrics}}),
                logs / "broker.log",
                ready_line="broker ready",
            ),
        ]
        for sub in self.subscribers:
            self.hub_ports[sub] = port = free_port()
            tokens = {f"demo-{sub}": {"subscriber": sub, "sha256": _hash(token(sub)), "scopes": scopes(sub)}}
            procs.append(
                Proc(
                    f"hub {sub}",
                    ["-m", "apps.cli", "hub", "run", "--subscriber", sub],
                    self._service_env(
                        "JIGSAW_HUB__",
                        hub_participant(sub),
                        {
                            "api_port": port,
                            "api_tokens": json.dumps(tokens),
                            "metrics": {"port": self._target("jigsaw-hub", f"hub-{sub}")},
                            "hub_participant": hub_participant(sub),
                        },
                    ),
                    logs / f"hub-{sub}.log",
                    ready_line="hub ready",
                )
            )
        for agency in sorted(p.stem for p in CONNECTORS.glob("*.yaml")):
            config = self._connector_config(agency, health_url)
            procs.append(
                Proc(
                    f"connector {agency}",
                    ["-m", "apps.cli", "connector", "run", "--config", str(config)],
                    self._env("JIGSAW_CONNECTOR__", {"keys": {"passphrase": PASSPHRASE}}),
                    logs / f"connector-{agency}.log",
                    ready_line="connector ready",
                )
            )
        return procs

    def start(self, on_ready: Callable[[Proc, int, int], None] | None = None) -> None:
        """Start Prometheus, then every process, and wait until each says it is ready; stop them all if
        one fails. Prometheus comes first so that it scrapes each service from its start."""
        self.targets = []
        self.procs = self.plan()
        self.prometheus = LocalPrometheus(self.dir / "prometheus", progress=self.progress)
        self.prometheus.start(self.targets)
        for proc in self.procs:
            proc.start(ROOT)
        waiting = list(self.procs)
        deadline = time.monotonic() + READY_S
        while waiting:
            for proc in list(waiting):
                code = proc.exited()
                if code is not None:
                    self.stop()
                    raise ConfigError(f"{proc.name} exited with status {code}:\n{proc.tail()}")
                if proc.is_ready():
                    waiting.remove(proc)
                    if on_ready is not None:
                        on_ready(proc, len(self.procs) - len(waiting), len(self.procs))
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                self.stop()
                raise ConfigError(f"not ready after {READY_S:.0f} s: {names}; logs in {self.dir / 'logs'}")
            time.sleep(0.2)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every process (connectors first, the health API last), then wait for each."""
        order = list(reversed(self.procs))
        for proc in order:
            proc.terminate()
        codes = {proc.name: proc.wait(30.0) for proc in order}
        if self.prometheus is not None:
            codes["prometheus"] = self.prometheus.stop()
        return codes

    def failed(self) -> list[Proc]:
        return [p for p in self.procs if p.exited() is not None]
