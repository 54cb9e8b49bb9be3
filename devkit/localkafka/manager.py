"""Fetch, configure, start, probe and stop a local Kafka: one KRaft node, or a cluster of three.

``up`` is idempotent: a node recorded in the state file that is alive and answering is left alone; a
stale record (the JVM died or was killed) is cleared and the node is started again on the same data.
``down`` stops exactly the recorded processes, after checking that each pid still belongs to its node.
``kill`` and ``start`` act on one node of a cluster, for fault tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devkit.localkafka.config import LocalKafkaSettings
from devkit.localkafka.install import fetch_jars, find_java, libs_dir
from devkit.localkafka.process import cmdline as _cmdline
from devkit.localkafka.process import probe
from devkit.localkafka.storage import format_storage, write_configs
from devkit.localkafka.tls import NODE_PRINCIPAL, TlsFiles, ensure_tls
from devkit.procs import alive as _alive
from devkit.procs import paused as _paused
from jigsaw.config import KafkaSettings, TlsSettings
from jigsaw.credentials import KafkaCredential, credential_path, load_credential, save_credential
from jigsaw.errors import ConfigError, KafkaLocalError
from jigsaw.roster import RESERVED_PRINCIPALS, load_roster

Progress = Callable[[str], None]
# JVMs this process started, so that `down` can reap them; the broker itself outlives the CLI.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class NodeStatus:
    node_id: int
    running: bool
    pid: int | None
    bootstrap: str
    answering: bool
    log: str


@dataclass(frozen=True)
class KafkaStatus:
    """The whole local Kafka: ``running`` and ``answering`` only when every node is; ``pid`` is node 1's."""

    running: bool
    pid: int | None = None
    bootstrap: str | None = None
    answering: bool = False
    log: str | None = None
    secure: bool = True
    mtls_bootstrap: str | None = None
    nodes: tuple[NodeStatus, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _migrate(state: dict[str, Any]) -> dict[str, Any]:
    """A state file written before clusters (one node's fields at the top) in today's shape."""
    if "nodes" in state:
        return state
    keys = ("port", "mtls_port", "controller_port", "pid", "started_at")
    node = {k: state[k] for k in keys if k in state}
    return {**{k: v for k, v in state.items() if k not in keys}, "count": 1, "nodes": {"1": node}}


class LocalKafka:
    def __init__(self, settings: LocalKafkaSettings | None = None, progress: Progress = print):
        self.s = settings or LocalKafkaSettings()
        self.progress = progress
        self.state_file = self.s.home / "state.json"
        self.tls = TlsFiles(self.s.home / "tls")
        self.principals_dir = self.s.home / "principals"

    # -- nodes --------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """How many nodes: as formatted (the state file), else as asked (``nodes``), else one."""
        state = self._read_state()
        if state and self._formatted(int(state.get("count", 1))):
            return int(state.get("count", 1))
        return self.s.nodes or int((state or {}).get("count", 1))

    def node_ids(self) -> list[int]:
        return list(range(1, self.count + 1))

    def _node_dir(self, node: int, count: int | None = None) -> Path:
        # One node keeps the layout it always had, so a developer's existing storage opens as it is.
        return self.s.home if (count or self.count) == 1 else self.s.home / f"node-{node}"

    def data_dir(self, node: int = 1, count: int | None = None) -> Path:
        return self._node_dir(node, count) / "data"

    def config_file(self, node: int = 1) -> Path:
        return self._node_dir(node) / "server.properties"

    def log_file(self, node: int = 1) -> Path:
        name = "kafka.log" if self.count == 1 else f"node-{node}.log"
        return self.s.home / "logs" / name

    def _formatted(self, count: int) -> bool:
        return any((self.data_dir(n, count) / "meta.properties").exists() for n in range(1, count + 1))

    # -- jars and java ------------------------------------------------------------------------
    def libs(self) -> Path:
        return libs_dir(self.s.deploy_dir, self.s.jar_cache)

    def fetch(self) -> Path:
        return fetch_jars(self.s.deploy_dir, self.s.jar_cache, self.progress)

    @staticmethod
    def java() -> str:
        return find_java()

    # -- state --------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return _migrate(state)

    def _write_state(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def _node_state(self, node: int) -> dict[str, Any]:
        return dict(((self._read_state() or {}).get("nodes") or {}).get(str(node)) or {})

    def _set_node(self, node: int, **fields: Any) -> None:
        state = self._read_state() or {}
        state.setdefault("nodes", {}).setdefault(str(node), {}).update(fields)
        self._write_state(state)

    # -- principals ---------------------------------------------------------------------------
    def principals(self) -> list[str]:
        """Who signs in with SCRAM: the operator, the outsider (granted nothing) and every participant."""
        admin, _node, outsider = RESERVED_PRINCIPALS
        return [admin, outsider, *load_roster(self.s.policy).participants]

    def _credentials(self) -> list[KafkaCredential]:
        """Each principal's credential, generated (once) where missing."""
        out = []
        for name in self.principals():
            path = credential_path(self.principals_dir, name)
            if path.exists():
                out.append(load_credential(path))
            else:
                cred = KafkaCredential.generate(name)
                save_credential(self.principals_dir, cred)
                out.append(cred)
        return out

    def credential(self, principal: str) -> Path:
        """``principal``'s credential file on this node (a demo copies it beside its keystore)."""
        path = credential_path(self.principals_dir, principal)
        if not path.exists():
            raise ConfigError(
                f"the local Kafka has no credential for {principal!r}: is it in {self.s.policy}? "
                "`jigsaw kafka up` creates one for every participant there"
            )
        return path

    def client(
        self,
        principal: str = RESERVED_PRINCIPALS[0],
        *,
        mtls: bool = False,
        node: int | None = None,
        **update: Any,
    ) -> KafkaSettings:
        """Settings that reach this Kafka as ``principal``: SCRAM over TLS, or with ``mtls`` its client
        certificate; every node's address, or only ``node``'s. ``update`` sets other fields
        (``topic_prefix``, ``client_id``, ...)."""
        state = self._read_state() or {}

        def addresses(key: str) -> str:
            return self._addresses(key, node)

        if not state.get("secure", False):
            return KafkaSettings(bootstrap=addresses("port"), security_protocol="PLAINTEXT", **update)
        if mtls:
            tls = TlsSettings(
                cafile=self.tls.ca,
                certfile=self.tls.client_cert(principal),
                keyfile=self.tls.client_key(principal),
            )
            return KafkaSettings(bootstrap=addresses("mtls_port"), security_protocol="SSL", tls=tls, **update)
        return KafkaSettings(
            bootstrap=addresses("port"),
            security_protocol="SASL_SSL",
            credentials=self.credential(principal),
            tls=TlsSettings(cafile=self.tls.ca),
            **update,
        )

    def _addresses(self, key: str, node: int | None = None) -> str:
        """Every node's (or ``node``'s) address on one listener: ``port`` or ``mtls_port``."""
        nodes = (self._read_state() or {}).get("nodes") or {}
        ids = [str(node)] if node is not None else sorted(nodes, key=int)
        return ",".join(f"127.0.0.1:{nodes[i][key]}" for i in ids if i in nodes and nodes[i].get(key))

    def _probe_settings(self, node: int | None = None) -> KafkaSettings:
        # The operator's certificate, not its SCRAM user: it answers even on storage whose SCRAM users were
        # never made (formatted --insecure, or before they existed), so `up` can then add them.
        state = self._read_state() or {}
        return self.client(mtls=bool(state.get("secure", False)), node=node)

    def _prepare_principals(self) -> list[KafkaCredential]:
        """Every principal's credential and certificate, made where missing (none for an insecure node)."""
        if self.s.insecure:
            return []
        ensure_tls(self.tls, [NODE_PRINCIPAL, *self.principals()])
        return self._credentials()

    def _sync_users(self, credentials: list[KafkaCredential]) -> None:
        """Add the SCRAM users the cluster lacks (a participant new to the policy, or storage formatted
        without them), as the operator over mTLS; one it has is never changed."""
        if not credentials:
            return
        from jigsaw.access.cluster import ensure_scram_users

        added = ensure_scram_users(self._probe_settings(), credentials)
        if added:
            self.progress(f"added SCRAM users {', '.join(added)}")

    def serves(self, bootstrap: str) -> bool:
        """Is ``bootstrap`` this Kafka's (every address in it one of its nodes')?"""
        state = self._read_state() or {}
        ours = {
            f"127.0.0.1:{node[key]}"
            for node in (state.get("nodes") or {}).values()
            for key in ("port", "mtls_port")
            if node.get(key)
        }
        given = {a.strip() for a in bootstrap.split(",") if a.strip()}
        return bool(given) and given <= ours

    def _ours(self, pid: int, node: int) -> bool:
        cmd = _cmdline(pid)
        return _alive(pid) and "kafka.Kafka" in cmd and str(self.config_file(node)) in cmd

    def node_status(self, node: int, *, probe_it: bool = True) -> NodeStatus:
        rec = self._node_state(node)
        pid = int(rec.get("pid", 0))
        bootstrap = f"127.0.0.1:{rec.get('port', 0)}"
        log = str(self.log_file(node))
        if pid <= 0 or not self._ours(pid, node):
            return NodeStatus(node, False, pid or None, bootstrap, False, log)
        answering = probe_it and asyncio.run(probe(self._probe_settings(node)))
        return NodeStatus(node, True, pid, bootstrap, answering, log)

    def status(self) -> KafkaStatus:
        state = self._read_state()
        if not state or not state.get("nodes"):
            return KafkaStatus(False, log=str(self.log_file()))
        nodes = tuple(self.node_status(n) for n in self.node_ids())
        secure = bool(state.get("secure", False))
        mtls = self._addresses("mtls_port") if secure else None
        return KafkaStatus(
            running=all(n.running for n in nodes),
            pid=nodes[0].pid,
            bootstrap=self._addresses("port"),
            answering=all(n.answering for n in nodes),
            log=str(self.log_file()),
            secure=secure,
            mtls_bootstrap=mtls,
            nodes=nodes,
        )

    # -- up -----------------------------------------------------------------------------------
    def up(self) -> KafkaStatus:
        count = self._check_count()
        state = self._read_state() or {}
        current = self.status()
        alive = [n for n in current.nodes if n.running]
        if alive and bool(state.get("secure", False)) == self.s.insecure:
            mode, wanted = ("secured", "--insecure") if state.get("secure") else ("insecure", "secured")
            raise KafkaLocalError(
                f"the local Kafka (pid {alive[0].pid}) is running {mode}: stop it with `jigsaw kafka down` "
                f"before starting it {wanted}"
            )
        if current.running and current.answering and len(current.nodes) == count:
            self.progress(f"Kafka already running: {self._pids(current)} at {current.bootstrap}")
            self._sync_users(self._prepare_principals())
            return current
        if current.running:
            # Alive but not answering: it may still be starting. Wait for it rather than start a twin.
            return self._await_ready(self.node_ids())
        java = self.java()
        libs = self.fetch()
        credentials = self._prepare_principals()
        self._write_configs(count)
        format_storage(self, java, libs, credentials)
        down = [n.node_id for n in self.status().nodes if not n.running]
        for node in down:
            self._launch(java, libs, node)
        status = self._await_ready(down)
        self._sync_users(credentials)
        return status

    def _check_count(self) -> int:
        """The node count ``up`` makes: storage formatted for one count is never started as another."""
        state = self._read_state() or {}
        had = int(state.get("count", 1))
        wanted = self.s.nodes or had
        if wanted != had and self._formatted(had):
            raise KafkaLocalError(
                f"the local Kafka under {self.s.home} was formatted with {had} node(s), not {wanted}: "
                "`jigsaw kafka down --purge` deletes it, or set JIGSAW_LOCALKAFKA__HOME to another folder"
            )
        return wanted

    @staticmethod
    def _pids(status: KafkaStatus) -> str:
        return ", ".join(f"node {n.node_id} pid {n.pid}" for n in status.nodes)

    def _write_configs(self, count: int) -> None:
        write_configs(self, count)

    def log4j(self) -> Path:
        return self.s.deploy_dir / "log4j2.properties"

    def _launch(self, java: str, libs: Path, node: int) -> None:
        log_file = self.log_file(node)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            java,
            f"-Xms{self.s.heap_mb // 2}m",
            f"-Xmx{self.s.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j()}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.config_file(node)),
        ]
        with log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        self._set_node(node, pid=proc.pid, started_at=time.time())
        where = f"node {node} " if self.count > 1 else ""
        address = self._node_status_address(node)
        self.progress(f"started Kafka {where}(kafka.Kafka) pid {proc.pid} at {address}; log {log_file}")

    def _node_status_address(self, node: int) -> str:
        return f"127.0.0.1:{self._node_state(node).get('port', 0)}"

    def _await_ready(self, nodes: list[int]) -> KafkaStatus:
        """Wait until each of ``nodes`` answers. A cluster's nodes are all launched first: a lone node of
        three has no controller quorum, so none answers before a majority runs."""
        deadline = time.monotonic() + self.s.start_timeout_s
        waiting = list(nodes)
        while waiting and time.monotonic() < deadline:
            node = waiting[0]
            pid = int(self._node_state(node).get("pid", 0))
            if not _alive(pid):
                raise KafkaLocalError(
                    f"Kafka node {node} exited during start-up; the end of {self.log_file(node)}:\n"
                    f"{self.tail(30, node)}"
                )
            if asyncio.run(probe(self._probe_settings(node), timeout_s=2.0)):
                self.progress(f"Kafka is answering at {self._node_status_address(node)}")
                waiting.pop(0)
                continue
            time.sleep(0.25)  # a poll interval between probes, not a wait for readiness
        if waiting:
            node = waiting[0]
            raise KafkaLocalError(
                f"Kafka node {node} did not answer at {self._node_status_address(node)} within "
                f"{self.s.start_timeout_s:.0f}s; see {self.log_file(node)}:\n{self.tail(30, node)}"
            )
        return self.status()

    # -- one node, for fault tests ------------------------------------------------------------
    def kill(self, node: int, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send ``sig`` (SIGKILL by default) to one node's JVM, at once and without waiting for it to stop
        cleanly, as a machine failing would. Returns the pid; the node is recorded as not running."""
        self._known(node)
        pid = int(self._node_state(node).get("pid", 0))
        if pid <= 0 or not self._ours(pid, node):
            raise KafkaLocalError(f"Kafka node {node} is not running")
        os.kill(pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            while _alive(pid):
                time.sleep(0.05)
            child = _CHILDREN.pop(pid, None)
            if child is not None:
                child.wait()
            self._set_node(node, pid=0)
        self.progress(f"sent {sig.name} to Kafka node {node} (pid {pid})")
        return pid

    def start(self, *nodes: int, wait: bool = True) -> KafkaStatus:
        """Start nodes of this Kafka that are down (on their own data and ports), wake any that ``kill``
        stopped with SIGSTOP, and with ``wait`` wait until each answers; one running is left alone."""
        for node in nodes:
            self._known(node)
            pid = int(self._node_state(node).get("pid", 0))
            if pid > 0 and self._ours(pid, node) and _paused(pid):
                os.kill(pid, signal.SIGCONT)
                self.progress(f"sent SIGCONT to Kafka node {node} (pid {pid})")
        down = [n for n in nodes if not self.node_status(n, probe_it=False).running]
        java, libs = self.java(), self.fetch()
        for node in down:
            self._launch(java, libs, node)
        return self._await_ready(down) if wait else self.status()

    def _known(self, node: int) -> None:
        if node not in self.node_ids():
            raise KafkaLocalError(f"there is no Kafka node {node}: the nodes are {self.node_ids()}")

    # -- down ---------------------------------------------------------------------------------
    def down(self) -> bool:
        """Stop every recorded node. Returns False when there was none to stop."""
        state = self._read_state()
        records = {int(k): int(v.get("pid", 0)) for k, v in ((state or {}).get("nodes") or {}).items()}
        if not any(records.values()):
            self.progress("Kafka is not running")
            return False
        # SIGTERM to every node at once: stopped one by one, the last would wait for a quorum that is gone.
        live = {n: pid for n, pid in records.items() if pid > 0 and self._ours(pid, n)}
        for n, pid in records.items():
            if pid > 0 and n not in live:
                self.progress(f"Kafka pid {pid} was no longer running")
        for pid in live.values():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.s.stop_timeout_s
        while any(_alive(p) for p in live.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in live.values():
            if _alive(pid):
                self.progress(f"Kafka pid {pid} ignored SIGTERM for {self.s.stop_timeout_s:.0f}s; killing")
                os.kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            self.progress(f"stopped Kafka pid {pid}")
        for n, pid in records.items():
            child = _CHILDREN.pop(pid, None)
            if child is not None:
                child.wait()
            self._set_node(n, pid=0)
        return bool(live)

    def purge(self) -> None:
        """Stop every node and delete its data and logs (the jar cache stays)."""
        self.down()
        shutil.rmtree(self.s.home, ignore_errors=True)

    def tail(self, lines: int = 50, node: int = 1) -> str:
        log_file = self.log_file(node)
        try:
            text = log_file.read_text(errors="replace")
        except OSError:
            return f"(no log at {log_file})"
        return "\n".join(text.splitlines()[-lines:])


def client_for(
    bootstrap: str | None = None, principal: str = RESERVED_PRINCIPALS[0], **update: Any
) -> KafkaSettings:
    """Settings for the local Kafka (``JIGSAW_LOCALKAFKA__HOME`` or the default home) as ``principal``.

    ``bootstrap``, when given, must be that node's address: a bare address carries no credential, and a
    command or benchmark handed one must still sign in as someone.
    """
    lk = LocalKafka(progress=lambda _: None)
    state = lk._read_state() or {}
    if bootstrap is not None and not lk.serves(bootstrap):
        raise ConfigError(
            f"{bootstrap} is not the local Kafka under {lk.s.home}: give that cluster's own settings "
            "(kafka.credentials, kafka.tls), or run `jigsaw kafka up`"
        )
    if not state:
        raise ConfigError(f"the local Kafka under {lk.s.home} has never started: run `jigsaw kafka up`")
    return lk.client(principal, **update)
