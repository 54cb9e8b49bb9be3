"""The load both pipelines' sources offer: returns at a set rate in short bursts, each publish time logged.

A source process prints ``ready``, waits for a line on stdin (so every stage is up before the clock
starts), offers the warm-up and then the measured load (or a preload backlog at full speed), waits until
what it published is out of its hands, writes one line per return (referral, publish time in ns, phase) to
``a.out`` and prints ``done`` with what it published. With ``a.burst``, the measured load is followed by a
pause and then that many returns published back to back, phase ``b``: the sources send them all for one
referral, as when every agency answers the same enquiry together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

BURST = 25  # returns published back to back before yielding (to the outbox publisher, or the producer)
# (referral id, publish time ns, phase: w = warm-up, m = measured, b = burst)
Log = list[tuple[str, int, str]]
Send = Callable[[str], Awaitable[None]]  # publish the next return in this phase, and log it


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def offer(send: Send, rate: float, seconds: float, phase: str, stop: asyncio.Event) -> None:
    total, start, done = round(rate * seconds), time.monotonic(), 0
    while done < total and not stop.is_set():
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        burst = 0
        while done < due and burst < BURST:
            await send(phase)
            done += 1
            burst += 1
        await asyncio.sleep(0 if done < due else 0.001)


async def drive(
    a: argparse.Namespace, log: Log, send: Send, drained: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    print("ready", flush=True)
    await read_line()
    started = time.monotonic()
    measured_s = 0.0
    if a.preload:
        await offer(send, 1e9, a.preload / 1e9, "m", stop)
    else:
        await offer(send, a.rate, a.warmup, "w", stop)
        measure_from = time.monotonic()
        await offer(send, a.rate, a.duration, "m", stop)
        measured_s = time.monotonic() - measure_from
    if getattr(a, "burst", 0):
        # The burst lands on a quiet pipeline: what the steady load put in flight is through first.
        await drained()
        await asyncio.sleep(a.burst_gap)
        await offer(send, 1e9, a.burst / 1e9, "b", stop)
    published_s = time.monotonic() - started
    await drained()
    drained_s = time.monotonic() - started
    with a.out.open("w") as f:
        f.writelines(f"{rid} {ns} {phase}\n" for rid, ns, phase in log)
    measured = sum(1 for *_, p in log if p == "m")
    result = {
        "published": len(log),
        "published_s": published_s,
        "drained_s": drained_s,
        "measured": measured,
        "burst": sum(1 for *_, p in log if p == "b"),
        "measured_rate": measured / measured_s if measured_s else None,
    }
    print("done " + json.dumps(result), flush=True)
