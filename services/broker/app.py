"""The broker's lifespan: every component composed in one exit stack, closed in reverse order."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from prometheus_client import CollectorRegistry

from jigsaw.access.plan import plan
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer, preflight
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.stores import store_for
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import masked
from jigsaw.health import Health
from jigsaw.lifecycle import until_stopped
from jigsaw.metrics import KernelMetrics, MetricsServer
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes
from services.broker import state
from services.broker.checkpoints import Checkpointer
from services.broker.config import BrokerSettings
from services.broker.decide import Decider
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy
from services.broker.processor import BrokerProcessor
from services.broker.watcher import PolicyWatcher

log = logging.getLogger(__name__)


async def run(settings: BrokerSettings, stop: asyncio.Event) -> None:
    log.info("broker starting with %s", masked(settings))
    registry = SchemaRegistry.load(max_record_bytes=settings.kafka.max_record_bytes)
    policy = load_policy(settings.policy)
    keys = settings.keys.keystore().load(settings.participant_id)
    directory = settings.keys.directory(registry)
    topics = Topics(settings.kafka.topic_prefix)
    prom = CollectorRegistry()
    kernel_metrics, metrics = KernelMetrics(prom, "broker"), BrokerMetrics(prom)
    health = Health(pending=("keys", "store", "consumer"))
    health.check("tasks", kernel_metrics.failed_tasks)
    kernel_metrics.readiness(health)
    decider = Decider(policy)
    processor = BrokerProcessor(
        Envelopes(registry, directory, keys),
        decider,
        topics,
        metrics,
        (settings.audit_checkpoint_records, settings.audit_checkpoint_s),
    )
    roster = policy.roster
    await preflight(settings.kafka)
    await ensure_topics(
        settings.kafka, plan(roster, topics, settings.partitions).topics_of(settings.participant_id)
    )
    dead_letters = DeadLetterCodec(registry, "broker")
    sqlite_path = settings.state_dir / "broker.sqlite"
    store = store_for(settings.store, sqlite_path, settings.participant_id, state.SCHEMA)

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(health)
        server = await stack.enter_async_context(MetricsServer(settings.metrics, prom, health))
        producer = await stack.enter_async_context(Producer(settings.kafka))
        dlq = DeadLetterPublisher(producer, dead_letters, topics.dlq, kernel_metrics)
        follower = KeyDirectoryFollower(settings.kafka, topics.keys, directory, kernel_metrics, dlq)
        health.check("keys", follower.not_ready)
        await stack.enter_async_context(follower)
        await follower.wait_loaded()
        store.open()
        stack.callback(store.close)
        health.check("store", store.not_ready)
        outbox = await stack.enter_async_context(OutboxPublisher(store, producer, kernel_metrics))
        # Entered after the outbox and before the loop, so at shutdown it signs the last records once no
        # more can come, and the outbox then publishes that checkpoint with them.
        checkpointer = await stack.enter_async_context(
            Checkpointer(store, processor.audit, outbox.notify, settings.audit_checkpoint_s)
        )
        handler = TransactionalHandler(
            store, processor, dead_letters, topics.dlq, kernel_metrics, outbox.notify, room=outbox.room
        )
        loop = ConsumeLoop(
            kafka=settings.kafka,
            consumer=settings.consumer_settings(),
            topics=processor.inputs,
            handler=handler,
            metrics=kernel_metrics,
            positions=store.offsets,
            listeners=[store, checkpointer],
            stop=stop,
        )
        health.check("consumer", loop.not_ready)
        await stack.enter_async_context(loop)
        await stack.enter_async_context(
            PolicyWatcher(settings.policy, decider, metrics, settings.policy_poll_s)
        )
        where = f"http://{settings.metrics.host}:{server.port}/metrics" if settings.metrics.enabled else "off"
        log.info(
            "broker ready: policy %s, %d inputs, metrics %s", policy.version, len(processor.inputs), where
        )
        # A publisher that failed for good stops the broker too, even while no input arrives.
        await until_stopped(stop, loop.wait(), outbox.wait(), follower.wait(), checkpointer.wait())
    log.info("broker stopped")
