"""Debian's Prometheus, started on loopback for one run (the demo's, a test's).

The config is written from the run's own targets: one file-discovered job per kind of service
(``jigsaw-broker``, ``jigsaw-hub``, ``jigsaw-connector``), each target labelled ``jigsaw_service`` with the
service's name (not ``service``: that label is the metrics' own, and a target label of the same name would
rename it). Every rule file in ``deploy/prometheus/rules/`` is loaded, so the alerts a deployment would
raise are evaluated here too. The server's data directory sits in the run's directory; a server started
again on it answers queries about the earlier run, which is how a test reads what a finished demo scraped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from devkit import apt
from jigsaw.errors import JigsawError
from jigsaw.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
JOBS = ("jigsaw-broker", "jigsaw-hub", "jigsaw-connector")
SCRAPE_S = 2
READY_S = 60.0


class PromLocalError(JigsawError):
    """The local Prometheus could not be started, or did not answer."""


@dataclass(frozen=True)
class Target:
    job: str  # one of JOBS
    service: str  # broker, hub-<subscriber>, connector-<agency>
    address: str  # host:port of its /metrics

    def __post_init__(self) -> None:
        if self.job not in JOBS:
            raise ValueError(f"unknown job {self.job!r}: one of {', '.join(JOBS)}")


def config(targets_dir: Path, rules_dir: Path = RULES, scrape_s: int = SCRAPE_S) -> dict[str, Any]:
    """The Prometheus config for file-discovered targets under ``targets_dir`` (one JSON file per job)."""
    return {
        "global": {"scrape_interval": f"{scrape_s}s", "evaluation_interval": f"{scrape_s}s"},
        "rule_files": [str(rules_dir / "*.yml")],
        "scrape_configs": [
            {
                "job_name": job,
                "file_sd_configs": [{"files": [str(targets_dir / f"{job}.json")], "refresh_interval": "5s"}],
            }
            for job in JOBS
        ],
    }


def target_groups(targets: Sequence[Target], job: str) -> list[dict[str, Any]]:
    return [
        {"targets": [t.address], "labels": {"jigsaw_service": t.service}} for t in targets if t.job == job
    ]


class LocalPrometheus:
    """One Prometheus process whose config, targets, data and log live under ``dir``."""

    def __init__(self, dir: Path, port: int | None = None, progress: Callable[[str], None] = print) -> None:
        self.dir = dir
        self.port = port or free_port()
        self.progress = progress
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "prometheus.log"

    def write(self, targets: Sequence[Target]) -> Path:
        """The config and the target files; a running server picks up new targets within seconds."""
        (self.dir / "targets").mkdir(parents=True, exist_ok=True)
        for job in JOBS:
            path = self.dir / "targets" / f"{job}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(target_groups(targets, job), indent=1))
            tmp.replace(path)  # whole, never half-written, when the server rereads it
        path = self.dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config(self.dir / "targets"), sort_keys=False))
        return path

    def start(self, targets: Sequence[Target] = ()) -> str:
        """Start the server (installing Debian's prometheus first if needed) and wait until it is ready."""
        binary = apt.require("prometheus", "prometheus", self.progress)
        conf = self.write(targets)
        self._log = self.log_path.open("ab")
        argv = [
            str(binary),
            f"--config.file={conf}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=7d",
            "--web.enable-lifecycle",
        ]
        self._popen = subprocess.Popen(  # noqa: S603 - Debian's binary, fixed arguments
            argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.poll() is not None:
                raise PromLocalError(
                    f"prometheus exited with status {self._popen.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise PromLocalError(f"prometheus not ready after {READY_S:.0f} s; log: {self.log_path}")

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (Prometheus then writes its head block's WAL out cleanly), SIGKILL past the timeout."""
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            os.killpg(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self._popen.pid, signal.SIGKILL)
                self._popen.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self._popen.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- the HTTP API -------------------------------------------------------------------------------------
    def _api(self, path: str, params: dict[str, str]) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10.0)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise PromLocalError(f"{path} {params}: {response.status_code} {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's vector: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        data = self._api("query", params)
        if data["resultType"] != "vector":
            raise PromLocalError(f"{expr!r} is a {data['resultType']}, not a vector")
        return list(data["result"])

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The one value of a query that yields at most one series."""
        found = self.query(expr, at)
        if len(found) > 1:
            raise PromLocalError(f"{expr!r} gave {len(found)} series, not one")
        return float(found[0]["value"][1]) if found else None

    def targets(self) -> list[dict[str, Any]]:
        return list(self._api("targets", {"state": "active"})["activeTargets"])

    def rules(self) -> list[dict[str, Any]]:
        groups = self._api("rules", {})["groups"]
        return [rule for group in groups for rule in group["rules"]]
