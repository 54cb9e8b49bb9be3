"""Producer and consumer factories. Every producer is idempotent with ``acks=all``."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.conn import create_conn
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import RecordMetadata

from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import ConfigError, FatalError, TransientError
from jigsaw.lifecycle import Component, close_quietly, require

Headers = Sequence[tuple[str, bytes]]
PRODUCER_BATCH_BYTES = 256 * 1024
_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


class RefusedRecord(KafkaError):  # type: ignore[misc]
    """Kafka will never take this record as it is: its topic name is not legal, or its topic has no such
    partition. (A record too large is aiokafka's own ``MessageSizeTooLargeError``.)"""


# Kafka refusing what this principal asked: no retry can succeed until an operator changes the ACLs.
AUTHORIZATION_REFUSED: tuple[type[KafkaError], ...] = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)


def refused(settings: KafkaSettings, doing: str, exc: BaseException) -> FatalError:
    """The error a participant stops with when Kafka's ACLs refuse it ``doing`` something: what, as whom, and
    where to look. (Topic and group names are not personal data; the exception's text is Kafka's.)"""
    who = settings.principal() or "this client"
    return FatalError(
        f"Kafka at {settings.bootstrap} refuses {who} {doing}: {type(exc).__name__} ({exc}). The cluster's"
        " ACLs do not grant it: compare `jigsaw kafka acls plan` with this participant's settings"
    )


async def preflight(settings: KafkaSettings) -> None:
    """Sign in to a bootstrap server once, so that a wrong password, a TLS mismatch or a protocol mismatch
    stops the service at start with a plain reason, rather than as endless bootstrap retries. The servers
    are tried in turn: one node down must not keep a service of a healthy cluster from starting."""
    servers = [s.strip() for s in settings.bootstrap.split(",") if s.strip()]
    if not servers:
        raise ConfigError("kafka.bootstrap names no server")
    who = settings.principal() or "an anonymous client"
    unreachable: Exception | None = None
    for server in servers:
        try:
            conn = await _sign_in(settings, server)
        except TransientError as exc:
            unreachable = exc
            continue
        break
    else:
        cause = type(unreachable.__cause__ if unreachable else None).__name__
        raise TransientError(f"Kafka at {settings.bootstrap} is not reachable ({cause})") from unreachable
    try:
        # A SASL listener answers ApiVersions before anyone signs in; a real request shows whether we did.
        await conn.send(MetadataRequest([]))
    except (KafkaError, OSError) as exc:
        raise FatalError(
            f"Kafka at {settings.bootstrap} closed the connection when {who} asked for metadata with "
            f"{settings.security_protocol}: does the listener expect SASL_SSL and a credential? "
            f"({type(exc).__name__})"
        ) from exc
    finally:
        conn.close()


async def _sign_in(settings: KafkaSettings, server: str) -> Any:
    """A connection to ``server``, signed in; ``TransientError`` when nothing answers there."""
    host, _, port = server.rpartition(":")
    kw = settings.client_kwargs()
    for key in ("bootstrap_servers", "client_id"):
        kw.pop(key)
    who = settings.principal() or "an anonymous client"
    try:
        return await create_conn(host.strip("[]"), int(port), **kw)
    except SaslAuthenticationFailed as exc:
        raise FatalError(
            f"Kafka at {settings.bootstrap} refused the credential of {who} ({settings.sasl_mechanism}): "
            "wrong or rotated password? Check kafka.credentials"
        ) from exc
    except ssl.SSLError as exc:
        raise FatalError(
            f"the TLS handshake with Kafka at {settings.bootstrap} failed ({exc.reason}): check kafka.tls "
            "(the CA that signed the broker, and a client certificate where the listener asks for one)"
        ) from exc
    except (KafkaError, OSError) as exc:
        unreachable = (ConnectionRefusedError, TimeoutError, socket.gaierror)
        if isinstance(exc, unreachable) or "refused" in str(exc).lower():
            raise TransientError(f"Kafka at {server} is not reachable ({type(exc).__name__})") from exc
        raise FatalError(
            f"Kafka at {settings.bootstrap} closed the connection while {who} signed in with "
            f"{settings.security_protocol}: does the listener expect another security_protocol or a client "
            f"certificate? ({type(exc).__name__})"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"kafka.bootstrap {settings.bootstrap!r} is not host:port") from exc


def new_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    kw: dict[str, Any] = {
        **settings.client_kwargs(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "max_request_size": settings.max_message_bytes,
        # aiokafka buffers one batch per partition and sends one request per broker at a time, so a
        # partition moves at most one batch per round trip. At the default 16 KiB that capped the broker's
        # audit partitions (12 records per return) at a few hundred returns a second.
        "max_batch_size": min(PRODUCER_BATCH_BYTES, settings.max_message_bytes),
    }
    kw.update(overrides)
    return AIOKafkaProducer(**kw)


def new_consumer(settings: KafkaSettings, consumer: ConsumerSettings, **overrides: Any) -> AIOKafkaConsumer:
    kw: dict[str, Any] = {
        **settings.client_kwargs(),
        "group_id": consumer.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": consumer.max_poll_records,
        "session_timeout_ms": consumer.session_timeout_ms,
        "heartbeat_interval_ms": consumer.heartbeat_interval_ms,
        # Partition n of every joined topic must land on the same instance (see docs/architecture.md).
        "partition_assignment_strategy": (RangePartitionAssignor,),
    }
    kw.update(overrides)
    return AIOKafkaConsumer(**kw)


class Producer(Component):
    """An idempotent producer with the shared lifecycle."""

    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        self._settings = settings
        self._overrides = overrides
        self._producer: AIOKafkaProducer | None = None

    async def _start(self) -> None:
        self._producer = new_producer(self._settings, **self._overrides)
        try:
            await self._producer.start()
        except AUTHORIZATION_REFUSED as exc:
            # An idempotent producer needs a Write grant on some topic before it may have a producer id.
            await close_quietly(self._producer.stop(), "the refused producer")
            raise refused(self._settings, "an idempotent producer id (it has no Write grant)", exc) from exc
        except BaseException:
            await close_quietly(self._producer.stop(), "the producer that did not start")
            raise

    async def _stop(self) -> None:
        if self._producer is not None:
            # Unacknowledged sends belong to an outbox that keeps them; do not wait forever for Kafka.
            await close_quietly(self._producer.stop(), "the producer")

    @property
    def settings(self) -> KafkaSettings:
        return self._settings

    async def reset(self) -> None:
        """Replace the client with a fresh one, under a new producer id.

        When a broker refuses a batch for good (a record over the topic's own size limit), aiokafka keeps
        the sequence numbers it gave that batch, so every later send to the partition fails with
        ``OutOfOrderSequenceNumber``. A new producer id starts the sequences again. Sends in flight on the
        old client finish (or fail, and are retried by their owners) while it closes.
        """
        self._check_started()
        fresh = new_producer(self._settings, **self._overrides)
        await fresh.start()
        old, self._producer = self._producer, fresh
        if old is not None:
            await close_quietly(old.stop(), "the replaced producer")

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the returned future resolves when Kafka acknowledges it."""
        self._check_started()
        producer = require(self._producer, "producer")
        if not _LEGAL_TOPIC.match(topic) or topic in (".", ".."):
            # aiokafka would wait a whole request timeout for metadata that can never come.
            raise RefusedRecord(f"{topic[:300]!r} is not a legal topic name")
        try:
            fut: asyncio.Future[RecordMetadata] = await producer.send(
                topic, value=value, key=key, headers=list(headers), partition=partition
            )
        except AssertionError as exc:  # aiokafka asserts that a pinned partition exists, nothing more
            raise RefusedRecord(f"{topic} has no partition {partition}") from exc
        return fut

    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> RecordMetadata:
        return await (await self.send(topic, value, key, headers, partition))

    async def flush(self) -> None:
        self._check_started()
        await require(self._producer, "producer").flush()


class Consumer(Component):
    """A consumer subscribed to ``topics`` in one group, with manual commits and the range assignor."""

    def __init__(
        self,
        settings: KafkaSettings,
        consumer: ConsumerSettings,
        topics: Sequence[str],
        listener: ConsumerRebalanceListener | None = None,
        **overrides: Any,
    ) -> None:
        self._settings = settings
        self._consumer_settings = consumer
        self._topics = list(topics)
        self._listener = listener
        self._overrides = overrides
        self.client: AIOKafkaConsumer | None = None

    async def _start(self) -> None:
        self.client = new_consumer(self._settings, self._consumer_settings, **self._overrides)
        await self.client.start()
        if self._listener is not None:
            self.client.subscribe(self._topics, listener=self._listener)
        else:
            self.client.subscribe(self._topics)

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.stop()
