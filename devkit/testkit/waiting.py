"""Waiting for something to happen, in tests and in the kits they share with the benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], object], timeout_s: float = 60.0, what: str = "") -> None:
    """Poll ``check`` until it is truthy. The timeout only bounds a hung test; nothing is timed."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)
