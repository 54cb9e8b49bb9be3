"""The local Kafka's process and port checks, and the readiness probe."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from jigsaw.config import KafkaSettings


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def probe(settings: KafkaSettings, timeout_s: float = 3.0) -> bool:
    """True when the broker answers a metadata request from ``settings``' principal."""
    client = AIOKafkaClient(**{**settings.client_kwargs(), "request_timeout_ms": int(timeout_s * 1000)})
    # A refused connection while the JVM starts is expected; aiokafka would log each one as an ERROR.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except (KafkaError, TimeoutError, OSError):
        return False
    finally:
        await client.close()
        aiokafka_log.setLevel(level)
    return True
