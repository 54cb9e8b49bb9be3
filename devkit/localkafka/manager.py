"""Fetch, configure, start, probe and stop one local Kafka JVM.

``up`` is idempotent: a broker recorded in the state file that is alive and answering is left alone; a
stale record (the JVM died or was killed) is cleared and the broker is started again on the same data.
``down`` stops exactly the recorded process, after checking that the pid still belongs to it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from devkit.localkafka.config import LocalKafkaSettings
from jigsaw.errors import KafkaLocalError
from jigsaw.serving import free_port

Progress = Callable[[str], None]
MIN_JAVA = 17
# JVMs this process started, so that `down` can reap them; the broker itself outlives the CLI.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class KafkaStatus:
    running: bool
    pid: int | None = None
    bootstrap: str | None = None
    answering: bool = False
    log: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the JVM binds: sockets of a killed broker left in TIME_WAIT must not make its port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def probe(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True when the broker answers a metadata request."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    # A refused connection while the JVM starts is expected; aiokafka would log each one as an ERROR.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except (KafkaError, TimeoutError, OSError):
        return False
    finally:
        await client.close()
        aiokafka_log.setLevel(level)
    return True


class LocalKafka:
    def __init__(self, settings: LocalKafkaSettings | None = None, progress: Progress = print):
        self.s = settings or LocalKafkaSettings()
        self.progress = progress
        self.state_file = self.s.home / "state.json"
        self.log_file = self.s.home / "logs" / "kafka.log"
        self.data_dir = self.s.home / "data"
        self.config_file = self.s.home / "server.properties"

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
        if not self._ours(pid):
            return KafkaStatus(False, pid=pid, bootstrap=bootstrap, log=str(self.log_file))
        return KafkaStatus(True, pid, bootstrap, asyncio.run(probe(bootstrap)), str(self.log_file))

    # -- up -----------------------------------------------------------------------------------
    def up(self) -> KafkaStatus:
        current = self.status()
        if current.running and current.answering:
            self.progress(f"Kafka already running: pid {current.pid} at {current.bootstrap}")
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
        port, cport = self._ports()
        self._write_config(port, cport)
        self._format(java, libs)
        return self._launch(java, libs, port)

    def _ports(self) -> tuple[int, int]:
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
        previous_c = int(str(state.get("controller_port", 0)))
        cport = previous_c if previous_c and _port_free(previous_c) else free_port()
        while cport == port:
            cport = free_port()
        return port, cport

    def _write_config(self, port: int, cport: int) -> None:
        template = Template((self.s.deploy_dir / "server.properties.template").read_text())
        self.s.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            template.substitute(port=port, controller_port=cport, log_dirs=self.data_dir)
        )
        self.state_file.write_text(
            json.dumps({"port": port, "controller_port": cport, "pid": 0, "bootstrap": f"127.0.0.1:{port}"})
        )

    def _format(self, java: str, libs: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
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
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise KafkaLocalError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

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
            if asyncio.run(probe(bootstrap, timeout_s=2.0)):
                self.progress(f"Kafka is answering at {bootstrap}")
                return KafkaStatus(True, pid, bootstrap, True, str(self.log_file))
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
