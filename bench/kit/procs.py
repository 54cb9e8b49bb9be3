"""Child processes of a benchmark: started, watched, measured (CPU seconds, peak RSS) and stopped.

Each stage of a pipeline runs in its own OS process, so its CPU time and peak resident memory are its own.
Peak RSS is the kernel's high-water mark (``VmHWM``), read from ``/proc`` before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.kit.world import REPO


@dataclass(frozen=True)
class Usage:
    cpu_s: float
    peak_rss_mb: float
    rss_mb: float


def usage(pid: int) -> Usage:
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    peak = rss = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return Usage(times.user + times.system, peak, rss)


class ChildFailed(RuntimeError):
    pass


class Child:
    """A Python child process with line-oriented stdout (its protocol) and stderr to a log file."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            await self._lines.put(raw.decode().rstrip("\n"))
        await self._lines.put(None)

    async def expect(self, word: str, timeout_s: float = 120.0) -> str:
        """The next stdout line starting with ``word``; fails with the log's tail if the process ends."""
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self._lines.get()
                if line is None:
                    await self.proc.wait()
                    raise ChildFailed(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
                if line.startswith(word):
                    return line[len(word) :].strip()

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def usage(self) -> Usage:
        return usage(self.pid)

    async def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return self.proc.returncode or 0


async def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
    """``python <args>`` from the repository root, with ``env`` added to this process's environment."""
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=REPO,
            env=full,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    return Child(name, proc, log)


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
