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

from jigsaw.bus.store import BaseStore
from jigsaw.errors import Fenced
from jigsaw.lifecycle import Component, supervise
from services.broker.auditing import AuditLog

log = logging.getLogger(__name__)


class Checkpointer(Component):
    def __init__(
        self,
        store: BaseStore,
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
        due = [p for p in self._audit.due(everything=everything) if self._store.owns_partition(p)]
        if not due:
            return 0
        with self._store.transaction() as tx:
            signed = self._audit.checkpoint(tx, due)
        if signed:
            self._notify()
        return signed

    # The consume loop's partition listener (after the store's claim, before its release).
    def assigned(self, partitions: list[tuple[str, int]]) -> None:
        with self._store.transaction() as tx:
            self._audit.recover(tx, {p for _, p in partitions})

    def revoked(self, partitions: list[tuple[str, int]]) -> None:
        numbers = {p for _, p in partitions}
        due = [p for p in self._audit.due(everything=True) if p in numbers]
        try:
            if due:
                with self._store.transaction() as tx:
                    signed = self._audit.checkpoint(tx, due)
                if signed:
                    self._notify()
        except Fenced:
            log.warning("partitions %s moved before their chains were signed; the new owner signs them", due)
        self._audit.forget(numbers)

    async def _stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        try:
            signed = self.sign(everything=True)
        except Fenced:
            # The group gave the partitions to another instance while this one stopped: they are its to sign.
            log.warning(
                "partitions moved before their chains were signed at shutdown; the new owner signs them"
            )
            return
        log.info("signed %d audit checkpoint(s) at shutdown", signed)
