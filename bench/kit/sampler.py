"""CPU time and memory of a pipeline's processes, and of the whole machine, sampled through a run."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import psutil

from bench.kit.procs import Usage, usage


@dataclass
class Sampler:
    """Samples every process's CPU time and memory twice a second, so any window can be read off."""

    procs: dict[str, int]
    samples: list[tuple[int, dict[str, Usage]]] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)  # the whole machine's busy CPU seconds, per sample
    task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        now: dict[str, Usage] = {}
        for name, pid in self.procs.items():
            with contextlib.suppress(Exception):  # a process that has exited keeps its last sample
                now[name] = usage(pid)
        t = psutil.cpu_times()
        self.busy.append(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))
        self.samples.append((time.time_ns(), now))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.sample()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _index(self, t_ns: int) -> int:
        return min(range(len(self.samples)), key=lambda i: abs(self.samples[i][0] - t_ns))

    def at(self, t_ns: int) -> dict[str, Usage]:
        return self.samples[self._index(t_ns)][1]

    def machine(self, t0: int, t1: int) -> dict[str, float]:
        """Cores busy on the whole machine over the window, and how many of them were not this pipeline's
        (another job on a shared machine shows up here, and makes the figures beside it suspect)."""
        i, j = self._index(t0), self._index(t1)
        wall = max((self.samples[j][0] - self.samples[i][0]) / 1e9, 1e-9)
        busy = (self.busy[j] - self.busy[i]) / wall
        ours = sum(
            self.samples[j][1][n].cpu_s - self.samples[i][1][n].cpu_s
            for n in self.procs
            if n in self.samples[i][1] and n in self.samples[j][1]
        )
        return {"busy_cores": round(busy, 2), "other_cores": round(max(0.0, busy - ours / wall), 2)}

    def window(self, t0: int, t1: int, returns: int) -> dict[str, dict[str, float | None]]:
        a, b, last = self.at(t0), self.at(t1), self.samples[-1][1]
        out: dict[str, dict[str, float | None]] = {}
        for name in self.procs:
            if name not in a or name not in b:
                continue
            cpu = b[name].cpu_s - a[name].cpu_s
            out[name] = {
                "cpu_s": round(cpu, 2),
                "cpu_ms_per_return": round(cpu * 1e3 / returns, 3) if returns else None,
                "cpu_util": round(cpu / max((t1 - t0) / 1e9, 1e-9), 3),
                "peak_rss_mb": round(last[name].peak_rss_mb, 1) if name != "kafka" else None,
            }
        return out
