"""Hot reload: a policy edit takes effect without a restart; an invalid edit is refused and logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from jigsaw.lifecycle import Component, wait_or_stop
from services.broker.decide import Decider
from services.broker.errors import PolicyError
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy

log = logging.getLogger(__name__)


class PolicyWatcher(Component):
    def __init__(self, path: Path, decider: Decider, metrics: BrokerMetrics, interval_s: float = 1.0) -> None:
        self._path = path
        self._decider = decider
        self._metrics = metrics
        self._interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int]:
        try:
            st = self._path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    async def _start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="policy-watcher")

    async def _stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def check_now(self) -> bool:
        """Reload if the file changed. Returns True when a new policy took effect."""
        stamp = self._stamp()
        total = self._decider.hits + self._decider.misses
        self._metrics.cache_hit_ratio.set(self._decider.hits / total if total else 0.0)
        if stamp == self._seen:
            return False
        self._seen = stamp
        try:
            policy = load_policy(self._path)
        except PolicyError as exc:
            log.error("policy edit refused, keeping %s: %s", self._decider.policy.version, exc)
            self._metrics.reloaded(False)
            return False
        old = self._decider.policy
        if (set(policy.participants), set(policy.subscribers)) != (
            set(old.participants),
            set(old.subscribers),
        ):
            # New participants or subscribers need new topics and subscriptions: that is a restart.
            log.error(
                "policy %s changes participants or subscribers; restart the broker to apply it",
                policy.version,
            )
            self._metrics.reloaded(False)
            return False
        self._decider.reload(policy)
        self._metrics.reloaded(True)
        log.info("policy reloaded: %s -> %s", old.version, policy.version)
        return True

    async def _run(self) -> None:
        while not await wait_or_stop(self._stopping, self._interval_s):
            self.check_now()
