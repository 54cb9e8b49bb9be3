"""Signs a checkpoint on every audit chain with records older than the interval, while input is quiet too.

A record is covered by the next signed checkpoint on its chain. Under load the handler signs one every so
many records; this component covers a quiet chain within the interval, the unsigned tail a crash left as
soon as the broker starts, and every chain at shutdown, after the consume loop has stopped and before the
outbox drains, so a clean stop leaves no record unsigned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from jigsaw.bus.store import Store
from jigsaw.lifecycle import Component, supervise
from services.broker.auditing import AuditLog

log = logging.getLogger(__name__)


class Checkpointer(Component):
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        notify: Callable[[], None],
        interval_s: float,
    ) -> None:
        self._store = store
        self._audit = audit
        self._notify = notify
        # Checked several times an interval, so no record waits much past it.
        self._tick_s = min(interval_s / 4, 0.25)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        with self._store.transaction() as tx:
            self._audit.recover(tx)
        self.sign()
        self._task = asyncio.create_task(
            supervise("audit checkpoint", self._run, stop=self._stopping), name="audit-checkpoints"
        )

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._tick_s)
            self.sign()

    def sign(self, *, everything: bool = False) -> int:
        """Checkpoint the chains that are due (every chain with an unsigned record, if ``everything``)."""
        due = self._audit.due(everything=everything)
        if not due:
            return 0
        with self._store.transaction() as tx:
            signed = self._audit.checkpoint(tx, due)
        if signed:
            self._notify()
        return signed

    async def _stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        signed = self.sign(everything=True)
        log.info("signed %d audit checkpoint(s) at shutdown", signed)
