"""The local Kafka's process and port checks, and the readiness probe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from jigsaw.config import KafkaSettings


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the JVM binds: sockets of a killed broker left in TIME_WAIT must not make its port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def paused(pid: int) -> bool:
    """Stopped by SIGSTOP (state T in /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


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
