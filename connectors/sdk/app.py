"""A connector's lifespan: source, Kafka clients, key directory, store, outbox, loop and health endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from connectors.sdk.adapters import SourceAdapter, build_adapter
from connectors.sdk.config import ConnectorConfig
from connectors.sdk.intake import SCHEMA as intake_schema
from connectors.sdk.intake import IntakeForwarder
from connectors.sdk.matching import Matcher
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.runtime import ConnectorRuntime
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.store import Store
from jigsaw.config import masked
from jigsaw.lifecycle import until_stopped
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.envelope import Envelopes

log = logging.getLogger(__name__)


def health_app(
    config: ConnectorConfig, store: Store, adapter: SourceAdapter, prom: CollectorRegistry
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

    return Starlette(routes=[Route("/health", health), Mount("/metrics", app=make_asgi_app(prom))])


async def run(
    config: ConnectorConfig,
    stop: asyncio.Event,
    ready: Callable[[ConnectorRuntime, int], Any] = lambda *_: None,
) -> None:
    log.info("connector starting with %s", masked(config))
    registry = SchemaRegistry.load(max_record_bytes=config.kafka.max_record_bytes)
    keys = config.keys.keystore().load(config.participant_id)
    directory = KeyDirectory(registry, config.keys.root_key())
    topics = Topics(config.kafka.topic_prefix)
    prom = CollectorRegistry()
    kernel_metrics = KernelMetrics(prom, f"connector-{config.agency}")
    adapter = build_adapter(config.source)
    connector = config.connector_class()(adapter)
    store = Store(config.state_dir / f"connector-{config.participant_id}.sqlite", intake_schema)
    await ensure_topics(
        config.kafka, [s for s in topics.specs([config.agency], []) if s.name != topics.referrals]
    )

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(adapter)
        producer = await stack.enter_async_context(Producer(config.kafka))
        dead_letters = DeadLetterCodec(registry, f"connector-{config.agency}")
        dlq = DeadLetterPublisher(producer, dead_letters, topics.dlq, kernel_metrics)
        follower = KeyDirectoryFollower(config.kafka, topics.keys, directory, kernel_metrics, dlq)
        await stack.enter_async_context(follower)
        await follower.wait_loaded()
        store.open()
        stack.callback(store.close)
        outbox = await stack.enter_async_context(OutboxPublisher(store, producer, kernel_metrics))
        intake = None
        if config.intake is not None:
            intake = await stack.enter_async_context(IntakeForwarder(config.intake, store))
        runtime = ConnectorRuntime(
            participant_id=config.participant_id,
            agency=config.agency,
            connector=connector,
            adapter=adapter,
            envelopes=Envelopes(registry, directory, keys),
            store=store,
            outbox=outbox,
            topics=topics,
            metrics=ConnectorMetrics(prom),
            kernel_metrics=kernel_metrics,
            dead_letters=dead_letters,
            matcher=Matcher(threshold=config.match_threshold),
            broker=config.broker,
            intake=intake,
        )
        loop = ConsumeLoop(
            kafka=config.kafka,
            consumer=config.consumer_settings(),
            topics=[topics.enquiries],
            handler=runtime,
            metrics=kernel_metrics,
            positions=store.offsets,
            stop=stop,
            dlq=dlq,
        )
        await stack.enter_async_context(loop)
        server = uvicorn.Server(
            uvicorn.Config(
                health_app(config, store, adapter, prom),
                host=config.metrics.host,
                port=config.metrics.port,
                log_level="warning",
                lifespan="off",
            )
        )
        web = asyncio.create_task(server.serve(), name="connector-health")
        while not server.started and not web.done():  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1] if server.started else 0
        log.info(
            "connector ready: %s; health http://%s:%d/health",
            config.participant_id,
            config.metrics.host,
            port,
        )
        ready(runtime, port)
        try:
            await until_stopped(stop, loop.wait(), web)
        finally:
            server.should_exit = True
            await asyncio.gather(web, return_exceptions=True)
    log.info("connector stopped")
