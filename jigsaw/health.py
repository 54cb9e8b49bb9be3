"""What ``/health/live`` and ``/health/ready`` answer, for every service.

Live means the service's event loop still runs: a heartbeat task stamps the time every second, and a stamp
older than ``stale_s`` means the loop is blocked or gone, which only a restart mends. Ready means the service
can do its job now: each component the service composes registers a check (connected to Kafka, key directory
loaded, store open, consumer assigned, no supervised task failed for good), and every check must pass.

The HTTP server answers from its own thread while the event loop mutates what a check reads, so a check reads
only a flag or a reference, and returns ``None`` when it passes or a short reason (no personal data, no
exception text) when it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from jigsaw.lifecycle import Component

Check = Callable[[], str | None]
HEARTBEAT_S = 1.0


def _starting() -> str:
    return "starting"


LIVE, READY = "/health/live", "/health/ready"


def probe(health: Health | None, path: str) -> tuple[int, dict[str, object]]:
    """The status code and JSON body of ``GET path`` (LIVE or READY), whichever server answers it."""
    ok, checks = (True, {}) if health is None else health.live() if path == LIVE else health.ready()
    return (200 if ok else 503), {"status": "ok" if ok else "fail", "checks": checks}


class Health(Component):
    """A service's readiness checks and its liveness heartbeat."""

    def __init__(
        self,
        pending: tuple[str, ...] = (),
        stale_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The checks named in ``pending`` fail until their component registers them: a service is not
        # ready while the parts it composes last are still starting.
        self._checks: dict[str, Check] = {name: _starting for name in pending}
        self._stale_s = stale_s
        self._clock = clock
        self._beat: float | None = None
        self._task: asyncio.Task[None] | None = None

    def check(self, name: str, check: Check) -> None:
        """Add (or replace) the readiness check ``name``."""
        self._checks[name] = check

    def live(self) -> tuple[bool, dict[str, str]]:
        beat = self._beat
        if beat is None:
            return False, {"event_loop": "not started"}
        age = self._clock() - beat
        if age > self._stale_s:
            return False, {"event_loop": f"no heartbeat for {age:.0f}s"}
        return True, {"event_loop": "ok"}

    def ready(self) -> tuple[bool, dict[str, str]]:
        alive, detail = self.live()
        for name, check in list(self._checks.items()):
            try:
                reason = check()
            except Exception as exc:  # a check that cannot answer is a failed check, never a 500
                reason = f"check failed ({type(exc).__name__})"
            detail[name] = "ok" if reason is None else reason
        return alive and all(v == "ok" for v in detail.values()), detail

    async def _start(self) -> None:
        self._beat = self._clock()
        self._task = asyncio.create_task(self._heartbeat(), name="health heartbeat")

    async def _heartbeat(self) -> None:
        while True:
            self._beat = self._clock()
            await asyncio.sleep(HEARTBEAT_S)

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._beat = None
