"""Fetch, configure, start, probe and stop one local Kafka JVM.

``up`` is idempotent: a broker recorded in the state file that is alive and answering is left alone; a
stale record (the JVM died or was killed) is cleared and the broker is started again on the same data.
``down`` stops exactly the recorded process, after checking that the pid still belongs to it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Any

from devkit.localkafka.config import LocalKafkaSettings
from devkit.localkafka.process import alive as _alive
from devkit.localkafka.process import cmdline as _cmdline
from devkit.localkafka.process import port_free as _port_free
from devkit.localkafka.process import probe
from devkit.localkafka.tls import NODE_PRINCIPAL, TlsFiles, ensure_tls
from jigsaw.config import KafkaSettings, TlsSettings
from jigsaw.credentials import KafkaCredential, credential_path, load_credential, save_credential
from jigsaw.errors import ConfigError, KafkaLocalError
from jigsaw.files import private_dir
from jigsaw.roster import RESERVED_PRINCIPALS, load_roster
from jigsaw.serving import free_port

Progress = Callable[[str], None]
MIN_JAVA = 17
# JVMs this process started, so that `down` can reap them; the broker itself outlives the CLI.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def new_cluster_id() -> str:
    """A random cluster id as Kafka's own ``Uuid.randomUuid`` makes one: base64url, never starting with
    a dash, which the storage tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class KafkaStatus:
    running: bool
    pid: int | None = None
    bootstrap: str | None = None
    answering: bool = False
    log: str | None = None
    secure: bool = True
    mtls_bootstrap: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class LocalKafka:
    def __init__(self, settings: LocalKafkaSettings | None = None, progress: Progress = print):
        self.s = settings or LocalKafkaSettings()
        self.progress = progress
        self.state_file = self.s.home / "state.json"
        self.log_file = self.s.home / "logs" / "kafka.log"
        self.data_dir = self.s.home / "data"
        self.config_file = self.s.home / "server.properties"
        self.tls = TlsFiles(self.s.home / "tls")
        self.principals_dir = self.s.home / "principals"

    # -- jars ---------------------------------------------------------------------------------
    def _pom(self) -> Path:
        return self.s.deploy_dir / "pom.xml"

    def libs(self) -> Path:
        digest = hashlib.sha256(self._pom().read_bytes()).hexdigest()[:12]
        return self.s.jar_cache / digest

    def fetch(self) -> Path:
        """Copy the runtime jars named by deploy/kafka/pom.xml into the cache, once per pom."""
        libs = self.libs()
        if (libs / ".complete").exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaLocalError(
                "Maven is needed to fetch the Kafka jars: install it (apt-get install maven) "
                "and put `mvn` on PATH"
            )
        self.progress(f"fetching Kafka jars with Maven into {libs} (first run only)…")
        tmp = libs.with_name(libs.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(self._pom()),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise KafkaLocalError(
                f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-2000:]}"
            )
        (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        self.progress(f"fetched {len(list(libs.glob('*.jar')))} jars")
        return libs

    # -- java ---------------------------------------------------------------------------------
    @staticmethod
    def java() -> str:
        java = shutil.which("java")
        if java is None:
            raise KafkaLocalError(
                f"Java {MIN_JAVA}+ is needed to run Kafka: install a JDK or JRE "
                f"(apt-get install openjdk-{MIN_JAVA}-jre-headless) and put `java` on PATH"
            )
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)  # noqa: S603
        m = re.search(r'version "(\d+)', out.stderr + out.stdout)
        if m and int(m.group(1)) < MIN_JAVA:
            raise KafkaLocalError(
                f"Kafka 4 needs Java {MIN_JAVA}+, but `java` is version {m.group(1)}: "
                "install a newer JDK or put it first on PATH"
            )
        return java

    # -- state --------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, object] | None:
        try:
            state: dict[str, object] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state

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
        self, principal: str = RESERVED_PRINCIPALS[0], *, mtls: bool = False, **update: Any
    ) -> KafkaSettings:
        """Settings that reach this node as ``principal``: SCRAM over TLS, or with ``mtls`` its client
        certificate. ``update`` sets other fields (``topic_prefix``, ``client_id``, ...)."""
        state = self._read_state() or {}
        bootstrap = str(state.get("bootstrap", ""))
        if not state.get("secure", False):
            return KafkaSettings(bootstrap=bootstrap, security_protocol="PLAINTEXT", **update)
        if mtls:
            tls = TlsSettings(
                cafile=self.tls.ca,
                certfile=self.tls.client_cert(principal),
                keyfile=self.tls.client_key(principal),
            )
            mtls_at = str(state.get("mtls_bootstrap", ""))
            return KafkaSettings(bootstrap=mtls_at, security_protocol="SSL", tls=tls, **update)
        return KafkaSettings(
            bootstrap=bootstrap,
            security_protocol="SASL_SSL",
            credentials=self.credential(principal),
            tls=TlsSettings(cafile=self.tls.ca),
            **update,
        )

    def _probe_settings(self) -> KafkaSettings:
        # The operator's certificate, not its SCRAM user: it answers even on storage whose SCRAM users were
        # never made (formatted --insecure, or before they existed), so `up` can then add them.
        state = self._read_state() or {}
        return self.client(mtls=bool(state.get("secure", False)))

    def _prepare_principals(self) -> list[KafkaCredential]:
        """Every principal's credential and certificate, made where missing (none for an insecure node)."""
        if self.s.insecure:
            return []
        ensure_tls(self.tls, [NODE_PRINCIPAL, *self.principals()])
        return self._credentials()

    def _sync_users(self, credentials: list[KafkaCredential]) -> None:
        """Add the SCRAM users the node lacks (a participant new to the policy, or storage formatted without
        them), as the operator over mTLS; one it has is never changed."""
        if not credentials:
            return
        from jigsaw.access.cluster import ensure_scram_users

        added = ensure_scram_users(self._probe_settings(), credentials)
        if added:
            self.progress(f"added SCRAM users {', '.join(added)}")

    def serves(self, bootstrap: str) -> bool:
        """Is ``bootstrap`` one of this node's recorded addresses?"""
        state = self._read_state() or {}
        return bootstrap in (state.get("bootstrap"), state.get("mtls_bootstrap"))

    def _ours(self, pid: int) -> bool:
        cmd = _cmdline(pid)
        return _alive(pid) and "kafka.Kafka" in cmd and str(self.config_file) in cmd

    def status(self) -> KafkaStatus:
        state = self._read_state()
        if not state:
            return KafkaStatus(False, log=str(self.log_file))
        pid = int(str(state.get("pid", 0)))
        bootstrap = str(state["bootstrap"])
        if pid <= 0:
            return KafkaStatus(False, log=str(self.log_file))
        secure = bool(state.get("secure", False))
        mtls = str(state["mtls_bootstrap"]) if state.get("mtls_bootstrap") else None
        if not self._ours(pid):
            return KafkaStatus(False, pid=pid, bootstrap=bootstrap, log=str(self.log_file), secure=secure)
        answering = asyncio.run(probe(self._probe_settings()))
        return KafkaStatus(True, pid, bootstrap, answering, str(self.log_file), secure, mtls)

    # -- up -----------------------------------------------------------------------------------
    def up(self) -> KafkaStatus:
        current = self.status()
        if current.running and current.secure == self.s.insecure:
            mode, wanted = ("secured", "--insecure") if current.secure else ("insecure", "secured")
            raise KafkaLocalError(
                f"the local Kafka (pid {current.pid}) is running {mode}: stop it with `jigsaw kafka down` "
                f"before starting it {wanted}"
            )
        if current.running and current.answering:
            self.progress(f"Kafka already running: pid {current.pid} at {current.bootstrap}")
            self._sync_users(self._prepare_principals())
            return current
        if current.running:
            # Alive but not answering: it may still be starting. Wait for it rather than start a twin.
            return self._await_ready(int(current.pid or 0), str(current.bootstrap))
        if current.pid is not None:
            self.progress(f"clearing stale record of Kafka pid {current.pid} (not running)")
            child = _CHILDREN.pop(current.pid, None)
            if child is not None:
                child.wait()
        java = self.java()
        libs = self.fetch()
        port, mport, cport = self._ports()
        credentials = self._prepare_principals()
        self._write_config(port, mport, cport)
        self._format(java, libs, credentials)
        status = self._launch(java, libs, port)
        self._sync_users(credentials)
        return status

    def _ports(self) -> tuple[int, int, int]:
        state = self._read_state() or {}
        if self.s.port:
            if not _port_free(self.s.port):
                raise KafkaLocalError(
                    f"port {self.s.port} on 127.0.0.1 is taken by another process: stop it, or set "
                    "JIGSAW_LOCALKAFKA__PORT to a free port (0 picks one)"
                )
            port = self.s.port
        else:
            previous = int(str(state.get("port", 0)))
            port = previous if previous and _port_free(previous) else free_port()
        taken = {port}
        chosen = []
        for key in ("mtls_port", "controller_port"):
            previous = int(str(state.get(key, 0)))
            other = previous if previous and previous not in taken and _port_free(previous) else free_port()
            while other in taken:
                other = free_port()
            taken.add(other)
            chosen.append(other)
        return port, chosen[0], chosen[1]

    def _write_config(self, port: int, mport: int, cport: int) -> None:
        values = {
            "port": port,
            "mtls_port": mport,
            "controller_port": cport,
            "log_dirs": self.data_dir,
            "node_keystore": self.tls.node,
            "ca": self.tls.ca,
        }
        name = "insecure" if self.s.insecure else "secure"
        transport = Template((self.s.deploy_dir / f"{name}.properties.template").read_text()).substitute(
            values
        )
        template = Template((self.s.deploy_dir / "server.properties.template").read_text())
        private_dir(self.s.home)  # credentials, keys and the metadata log's SCRAM hashes are under it
        self.config_file.write_text(template.substitute(values, transport=transport))
        state = {
            "port": port,
            "mtls_port": mport,
            "controller_port": cport,
            "pid": 0,
            "secure": not self.s.insecure,
            "bootstrap": f"127.0.0.1:{port}",
            "mtls_bootstrap": None if self.s.insecure else f"127.0.0.1:{mport}",
        }
        self.state_file.write_text(json.dumps(state))

    def _format(self, java: str, libs: Path, credentials: list[KafkaCredential]) -> bool:
        """Format the storage if it is new, with a SCRAM user for each credential (KIP-900). True if it
        formatted. The passwords are on the format tool's command line for the second it runs, where any
        local account could read them from /proc: the local node is for one developer's machine."""
        if (self.data_dir / "meta.properties").exists():
            return False
        cluster_id = new_cluster_id()
        cmd = [
            java,
            "-cp",
            f"{libs}/*",
            f"-Dlog4j2.configurationFile={self._log4j()}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_file),
        ]
        for cred in credentials:
            secret = cred.password.get_secret_value()
            cmd += ["--add-scram", f"{cred.mechanism}=[name={cred.username},password={secret}]"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for cred in credentials:
                output = output.replace(cred.password.get_secret_value(), "**********")
            raise KafkaLocalError(f"formatting Kafka storage failed:\n{output}")
        return True

    def _log4j(self) -> Path:
        return self.s.deploy_dir / "log4j2.properties"

    def _launch(self, java: str, libs: Path, port: int) -> KafkaStatus:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            java,
            f"-Xms{self.s.heap_mb // 2}m",
            f"-Xmx{self.s.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._log4j()}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(self.config_file),
        ]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        bootstrap = f"127.0.0.1:{port}"
        state = json.loads(self.state_file.read_text())
        state.update(pid=proc.pid, bootstrap=bootstrap, started_at=time.time())
        self.state_file.write_text(json.dumps(state))
        self.progress(f"started Kafka (kafka.Kafka) pid {proc.pid} at {bootstrap}; log {self.log_file}")
        return self._await_ready(proc.pid, bootstrap)

    def _await_ready(self, pid: int, bootstrap: str) -> KafkaStatus:
        deadline = time.monotonic() + self.s.start_timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise KafkaLocalError(
                    f"Kafka exited during start-up; the end of {self.log_file}:\n{self.tail(30)}"
                )
            if asyncio.run(probe(self._probe_settings(), timeout_s=2.0)):
                self.progress(f"Kafka is answering at {bootstrap}")
                return self.status()
            time.sleep(0.25)  # a poll interval between probes, not a wait for readiness
        raise KafkaLocalError(
            f"Kafka did not answer at {bootstrap} within {self.s.start_timeout_s:.0f}s; "
            f"see {self.log_file}:\n{self.tail(30)}"
        )

    # -- down ---------------------------------------------------------------------------------
    def down(self) -> bool:
        """Stop the recorded broker. Returns False when there was none to stop."""
        state = self._read_state()
        if not state or not int(str(state.get("pid", 0))):
            self.progress("Kafka is not running")
            return False
        pid = int(str(state["pid"]))
        stopped = False
        if self._ours(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.s.stop_timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                self.progress(f"Kafka pid {pid} ignored SIGTERM for {self.s.stop_timeout_s:.0f}s; killing")
                os.kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            stopped = True
            self.progress(f"stopped Kafka pid {pid}")
        else:
            self.progress(f"Kafka pid {pid} was no longer running")
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()
        state["pid"] = 0
        self.state_file.write_text(json.dumps(state))
        return stopped

    def purge(self) -> None:
        """Stop the broker and delete its data and logs (the jar cache stays)."""
        self.down()
        shutil.rmtree(self.s.home, ignore_errors=True)

    def tail(self, lines: int = 50) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_file})"
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
