"""A connector's lifespan: source, Kafka clients, key directory, store, outbox, loop and health endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from connectors.sdk.adapters import SourceAdapter, build_adapter
from connectors.sdk.config import ConnectorConfig, check_payload_lists
from connectors.sdk.matching import Matcher
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.runtime import ConnectorRuntime
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer, preflight
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.store import Store
from jigsaw.config import masked
from jigsaw.health import LIVE, READY, Health, probe
from jigsaw.lifecycle import until_stopped
from jigsaw.metrics import KernelMetrics
from jigsaw.serving import serve
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.envelope import Envelopes

log = logging.getLogger(__name__)


def _probe(health: Health, path: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def answer(_: Request) -> JSONResponse:
        code, body = probe(health, path)
        return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})

    return answer


def health_app(
    config: ConnectorConfig,
    store: Store,
    adapter: SourceAdapter,
    prom: CollectorRegistry,
    probes: Health | None = None,
) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        depth, oldest = store.outbox_stats()
        return JSONResponse(
            {
                "status": "ok",
                "participant": config.participant_id,
                "outbox_depth": depth,
                "outbox_oldest_s": round(oldest, 3),
                "source_rows_skipped": adapter.problem_count,
            }
        )

    probes = probes or Health()
    routes = [
        Route("/health", health),
        Route(LIVE, _probe(probes, LIVE)),
        Route(READY, _probe(probes, READY)),
        Mount("/metrics", app=make_asgi_app(prom)),
    ]
    return Starlette(routes=routes)


class _Parts:
    """Everything read or built before Kafka is touched, so a bad config or keystore fails first."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.registry = SchemaRegistry.load(max_record_bytes=config.kafka.max_record_bytes)
        self.keys = config.keys.keystore().load(config.participant_id)
        self.directory = KeyDirectory(self.registry, config.keys.root_key())
        self.topics = Topics(config.kafka.topic_prefix)
        self.prom = CollectorRegistry()
        self.kernel_metrics = KernelMetrics(self.prom, f"connector-{config.agency}")
        self.adapter = build_adapter(config.source)
        connector = config.connector_class()
        check_payload_lists(connector, self.registry)
        self.connector = connector(self.adapter)
        self.store = Store(config.state_dir / f"connector-{config.participant_id}.sqlite")
        self.dead_letters = DeadLetterCodec(self.registry, f"connector-{config.agency}")
        self.health = Health(pending=("keys", "store", "consumer"))
        self.health.check("tasks", self.kernel_metrics.failed_tasks)
        self.kernel_metrics.readiness(self.health)


def _warn_of_old_intake_queue(store: Store) -> None:
    """Referrals an earlier version queued for the hub's HTTP intake are no longer sent: say so, by count
    (their bodies name children), rather than leave them unnoticed in the store."""
    found = store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'connector_intake'"
    ).fetchone()
    if found is None:
        return
    (n,) = store.conn.execute("SELECT count(*) FROM connector_intake").fetchone()
    if n:
        log.warning(
            "%d referral(s) queued for the hub's HTTP intake by an earlier version are not sent: reports now"
            " reach the front door as REPORT messages; open these through the hub (table connector_intake)",
            n,
        )


async def _runtime(
    stack: AsyncExitStack, parts: _Parts
) -> tuple[ConnectorRuntime, DeadLetterPublisher, KeyDirectoryFollower]:
    """The runtime, with its producer, key directory, store and outbox started on ``stack``."""
    config, store, kernel_metrics = parts.config, parts.store, parts.kernel_metrics
    producer = await stack.enter_async_context(Producer(config.kafka))
    dlq = DeadLetterPublisher(producer, parts.dead_letters, parts.topics.dlq, kernel_metrics)
    follower = KeyDirectoryFollower(config.kafka, parts.topics.keys, parts.directory, kernel_metrics, dlq)
    parts.health.check("keys", follower.not_ready)
    await stack.enter_async_context(follower)
    await follower.wait_loaded()
    store.open()
    stack.callback(store.close)
    parts.health.check("store", store.not_ready)
    _warn_of_old_intake_queue(store)
    outbox = await stack.enter_async_context(OutboxPublisher(store, producer, kernel_metrics))
    runtime = ConnectorRuntime(
        participant_id=config.participant_id,
        agency=config.agency,
        connector=parts.connector,
        adapter=parts.adapter,
        envelopes=Envelopes(parts.registry, parts.directory, parts.keys),
        store=store,
        outbox=outbox,
        topics=parts.topics,
        metrics=ConnectorMetrics(parts.prom),
        kernel_metrics=kernel_metrics,
        dead_letters=parts.dead_letters,
        matcher=Matcher(threshold=config.match_threshold),
        broker=config.broker,
        front_door=config.front_door,
        contacts=config.contacts,
    )
    return runtime, dlq, follower


async def run(
    config: ConnectorConfig,
    stop: asyncio.Event,
    ready: Callable[[ConnectorRuntime, int], Any] = lambda *_: None,
) -> None:
    log.info("connector starting with %s", masked(config))
    parts = _Parts(config)
    topics = parts.topics
    await preflight(config.kafka)
    # Only the topics a connector is granted (the others are invisible to it under the ACLs).
    mine = {topics.enquiries, topics.intel(config.agency), topics.dlq, topics.keys}
    await ensure_topics(
        config.kafka, [s for s in topics.specs([config.agency], [], config.partitions) if s.name in mine]
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(parts.health)
        await stack.enter_async_context(parts.adapter)
        runtime, dlq, follower = await _runtime(stack, parts)
        loop = ConsumeLoop(
            kafka=config.kafka,
            consumer=config.consumer_settings(),
            topics=[topics.enquiries],
            handler=runtime,
            metrics=parts.kernel_metrics,
            positions=parts.store.offsets,
            stop=stop,
            dlq=dlq,
        )
        parts.health.check("consumer", loop.not_ready)
        await stack.enter_async_context(loop)
        health = health_app(config, parts.store, parts.adapter, parts.prom, parts.health)
        host = config.metrics.host
        web = await stack.enter_async_context(serve(health, host, config.metrics.port, "connector-health"))
        log.info("connector ready: %s; health http://%s:%d/health", config.participant_id, host, web.port)
        ready(runtime, web.port)
        # A background task that fails for good (the outbox, the key directory) stops the connector loudly.
        await until_stopped(stop, loop.wait(), web.task, runtime.outbox.wait(), follower.wait())
    log.info("connector stopped")
