"""The start/stop/``async with`` shape every component shares."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from jigsaw.errors import FatalError, JigsawError

log = logging.getLogger(__name__)

T = TypeVar("T")


class ClosedError(JigsawError):
    """A component was used after it was stopped. Components are not reusable."""


def require(value: T | None, what: str) -> T:
    """``value``, which a component only has while it is started."""
    if value is None:
        raise ClosedError(f"{what} is not available: the component is not started")
    return value


class _State(enum.Enum):
    NEW = "new"
    STARTED = "started"
    STOPPED = "stopped"


class Component:
    """``start()`` once, ``stop()`` any number of times; a stopped component cannot start again."""

    _state: _State = _State.NEW

    async def _start(self) -> None:
        """Acquire resources. Subclasses override."""

    async def _stop(self) -> None:
        """Release resources. Called at most once, only after a successful start."""

    @property
    def started(self) -> bool:
        return self._state is _State.STARTED

    def _check_started(self) -> None:
        if self._state is not _State.STARTED:
            raise ClosedError(f"{type(self).__name__} is {self._state.value}, not started")

    async def start(self) -> None:
        if self._state is _State.STARTED:
            return
        if self._state is _State.STOPPED:
            raise ClosedError(f"{type(self).__name__} was stopped and cannot be restarted")
        await self._start()
        self._state = _State.STARTED

    async def stop(self) -> None:
        was_started = self._state is _State.STARTED
        self._state = _State.STOPPED
        if was_started:
            await self._stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``, cut short by ``stop``. Returns True when stop was set."""
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    stop: asyncio.Event,
    on_restart: Callable[[], None] = lambda: None,
    backoff_s: float = 0.5,
    backoff_max_s: float = 30.0,
    give_up_after: int = 5,
) -> None:
    """Run a background task's body until it returns, restarting it with backoff after an unexpected error.

    A task nobody awaits dies silently, and what it did (publish an outbox, follow a topic) silently stops.
    Here each failure is logged with its traceback and restarted; a ``FatalError``, or the
    ``give_up_after``-th failure in quick succession, ends the supervision with a ``FatalError`` naming the
    task, which its owner turns into a failed service. A run that outlived ``backoff_max_s`` counts as
    recovered, so only failures close together add up. A failure once ``stop`` is set is not restarted.
    """
    failures, delay = 0, backoff_s
    while True:
        began = time.monotonic()
        try:
            await run()
            return
        except FatalError:
            log.critical("the %s task failed for good; the service stops", name, exc_info=True)
            raise
        except Exception as exc:
            if time.monotonic() - began > backoff_max_s:
                failures, delay = 0, backoff_s
            failures += 1
            if failures >= give_up_after:
                what = f"the {name} task failed {failures} times in a row ({type(exc).__name__})"
                log.critical("%s; the service stops", what, exc_info=True)
                raise FatalError(f"{what}; see the log for its traceback") from exc
            log.error(
                "the %s task failed (%s, %d in a row); restarting in %.1fs",
                name,
                type(exc).__name__,
                failures,
                delay,
                exc_info=True,
            )
        if await wait_or_stop(stop, delay):
            log.warning("the %s task failed while stopping; not restarted", name)
            return
        on_restart()
        delay = min(delay * 2, backoff_max_s)


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: services then stop fetching, drain, commit and exit."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def until_stopped(stop: asyncio.Event, *waits: Awaitable[None]) -> None:
    """Return when ``stop`` is set, or when any of ``waits`` ends; a failure among them is raised."""
    futures = [asyncio.ensure_future(stop.wait()), *(asyncio.ensure_future(w) for w in waits)]
    done, pending = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    for fut in pending:
        fut.cancel()
    for fut in done:
        fut.result()


async def close_quietly(closing: Awaitable[None], what: str, timeout_s: float = 10.0) -> None:
    """Close a Kafka client during shutdown without hanging on, or failing from, an unreachable Kafka.

    aiokafka's close can time out, raise a connection error, or surface the cancellation of its own
    internal tasks; none of these should stop the rest of the shutdown. Our own cancellation still propagates.
    """
    try:
        await asyncio.wait_for(closing, timeout_s)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("closing %s was cut short; Kafka may be unreachable", what)
    except Exception as exc:  # any failure to close is logged, and shutdown goes on
        log.warning("closing %s failed (%s); Kafka may be unreachable", what, type(exc).__name__)
