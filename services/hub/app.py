"""The hub's lifespan for one subscriber: consumer, case store, intake and API, closed in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from prometheus_client import CollectorRegistry

from jigsaw.access.plan import plan
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer, preflight
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.pgstore import PgStore
from jigsaw.bus.reader import end_offsets
from jigsaw.bus.store import BaseStore, Store
from jigsaw.bus.stores import store_for
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import masked
from jigsaw.health import Health
from jigsaw.lifecycle import Component, supervise, until_stopped, wait_or_stop
from jigsaw.metrics import KernelMetrics, MetricsServer
from jigsaw.roster import load_roster
from jigsaw.serving import serve
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.envelope import Envelopes
from services.hub import store as hub_store
from services.hub.api import Broadcast, Limits, create_app
from services.hub.config import HubSettings
from services.hub.consumer import HubProcessor
from services.hub.intake import Intake
from services.hub.metrics import HubMetrics
from services.hub.persons import PersonIndex
from services.hub.reports import is_front_door, start_reports
from services.hub.terms import load_terms

log = logging.getLogger(__name__)
Ready = Callable[[int], None]


def _nothing() -> None:
    return None


class _Relay(Component):
    """Case updates from the shared store's channel, from any instance, to this one's live streams.
    Supervised: a relay that died quietly would leave every stream here deaf."""

    def __init__(self, store: PgStore, broadcast: Broadcast) -> None:
        super().__init__()
        self._store = store
        self._broadcast = broadcast
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        self._task = asyncio.create_task(
            supervise("hub update relay", self._relay, stop=self._stopping), name="hub-update-relay"
        )

    async def _relay(self) -> None:
        async for referral_id in self._store.listen():
            self._broadcast.publish(referral_id)

    async def wait(self) -> None:
        """Returns (or raises) only if the relay failed for good."""
        if self._task is not None:
            await self._task

    async def _stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _Parts:
    """What both the live service and a rebuild need."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.background: list[OutboxPublisher | KeyDirectoryFollower] = []
        self.registry = SchemaRegistry.load(max_record_bytes=settings.kafka.max_record_bytes)
        self.roster = load_roster(settings.policy)
        self.terms = load_terms(settings.policy)
        # Only the front door keeps the person index: it alone opens referrals and sees them all.
        self.persons = (
            PersonIndex.at(settings.person_secret_path()) if is_front_door(settings, self.roster) else None
        )
        keystore = settings.keys.keystore()
        self.directory = KeyDirectory(self.registry, settings.keys.root_key())
        self.subscriber_keys = keystore.load(settings.subscriber)
        self.hub_keys = (
            keystore.load(settings.hub_participant) if keystore.exists(settings.hub_participant) else None
        )
        self.topics = Topics(settings.kafka.topic_prefix)
        self.prom = CollectorRegistry()
        self.kernel_metrics = KernelMetrics(self.prom, f"hub-{settings.subscriber}")
        self.metrics = HubMetrics(self.prom, settings.subscriber)
        self.dead_letters = DeadLetterCodec(self.registry, f"hub-{settings.subscriber}")
        self.health = Health(pending=("keys", "store", "consumer", "api"))
        self.health.check("tasks", self.kernel_metrics.failed_tasks)
        self.kernel_metrics.readiness(self.health)

    def processor(self, on_update: Callable[[str], None]) -> HubProcessor:
        envelopes = Envelopes(self.registry, self.directory, self.subscriber_keys)
        return HubProcessor(
            envelopes, self.topics, self.metrics, on_update, self.persons, self.settings.working_hours
        )

    async def topics_ready(self) -> None:
        # Only the topics this hub's participant is granted: the others are invisible to it.
        await preflight(self.settings.kafka)
        the_plan = plan(self.roster, self.topics, self.settings.partitions)
        await ensure_topics(self.settings.kafka, the_plan.topics_of(self.settings.hub_participant))

    def agencies(self) -> dict[str, str]:
        return self.roster.connectors()

    def intake(self, envelopes: Envelopes, producer: Producer) -> Intake:
        s = self.settings
        return Intake(
            envelopes,
            producer,
            self.topics,
            self.agencies(),
            s.timescales_h,
            terms=self.terms,
            clock=s.deadline_clock(),
        )


async def _consumer(
    stack: AsyncExitStack,
    parts: _Parts,
    store: BaseStore,
    producer: Producer,
    on_update: Callable[[str], None],
    group: str,
    stop: asyncio.Event,
    publish: bool = True,
) -> tuple[ConsumeLoop, HubProcessor]:
    dlq = DeadLetterPublisher(producer, parts.dead_letters, parts.topics.dlq, parts.kernel_metrics)
    follower = KeyDirectoryFollower(
        parts.settings.kafka, parts.topics.keys, parts.directory, parts.kernel_metrics, dlq
    )
    parts.health.check("keys", follower.not_ready)
    await stack.enter_async_context(follower)
    await follower.wait_loaded()
    parts.background.append(follower)
    store.open()
    stack.callback(store.close)
    parts.health.check("store", store.not_ready)
    notify: Callable[[], None] = _nothing
    if publish:  # a rebuild replays inputs whose dead letters the live service published already
        outbox = await stack.enter_async_context(OutboxPublisher(store, producer, parts.kernel_metrics))
        notify = outbox.notify
        parts.background.append(outbox)
    processor = parts.processor(on_update)
    handler = TransactionalHandler(
        store, processor, parts.dead_letters, parts.topics.dlq, parts.kernel_metrics, notify
    )
    # A rebuild fills a fresh store that is thrown away if it fails, and serves no one meanwhile: it can
    # commit in far larger batches than the live path, whose batch bounds how long the outbox waits.
    batch = {"batch_records": 1000} if not publish else {}
    consumer = parts.settings.consumer_settings().model_copy(update={"group_id": group, **batch})
    loop = ConsumeLoop(
        kafka=parts.settings.kafka,
        consumer=consumer,
        topics=processor.inputs,
        handler=handler,
        metrics=parts.kernel_metrics,
        positions=store.offsets,
        listeners=[store],
        stop=stop,
    )
    parts.health.check("consumer", loop.not_ready)
    await stack.enter_async_context(loop)
    return loop, processor


async def run(settings: HubSettings, stop: asyncio.Event, ready: Ready = lambda _: None) -> None:
    log.info("hub starting with %s", masked(settings))
    parts = _Parts(settings)
    await parts.topics_ready()
    broadcast = Broadcast()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(parts.health)
        await stack.enter_async_context(MetricsServer(settings.metrics, parts.prom, parts.health))
        producer = await stack.enter_async_context(Producer(settings.kafka))
        store = store_for(settings.store, settings.store_path(), settings.store_owner(), hub_store.SCHEMA)
        on_update: Callable[[str], None] = broadcast.publish
        relayed: list[Awaitable[None]] = []
        if isinstance(store, PgStore):
            # Every instance's live streams hear every instance's updates, this one's included.
            on_update = store.notify
            relayed.append((await stack.enter_async_context(_Relay(store, broadcast))).wait())
        loop, _ = await _consumer(
            stack, parts, store, producer, on_update, settings.consumer_settings().group_id, stop
        )
        reader = store.reader()
        stack.callback(reader.close)
        intake, envelopes = None, None
        if parts.hub_keys is not None:
            envelopes = Envelopes(parts.registry, parts.directory, parts.hub_keys)
            intake = parts.intake(envelopes, producer)
        app = create_app(
            subscriber=settings.subscriber,
            tokens=settings.api_tokens,
            db=reader,
            intake=intake,
            broadcast=broadcast,
            subscribers=parts.roster.subscriber_ids,
            front_door=settings.front_door,
            limits=Limits(settings.api_max_body_bytes, settings.api_max_streams_per_token),
            metrics=parts.metrics,
            clock=settings.working_hours,
        )
        reports = await start_reports(stack, parts, envelopes, producer, stop, app.state.hub, reader)
        api = await stack.enter_async_context(
            serve(app, settings.api_host, settings.api_port, name="hub-api")
        )
        log.info(
            "hub ready: subscriber %s, API http://%s:%d", settings.subscriber, settings.api_host, api.port
        )
        parts.health.check("api", lambda: None if not api.task.done() else "the API server has ended")
        ready(api.port)
        # A background task that fails for good (the outbox, the key directory) stops the hub loudly.
        background = [b.wait() for b in parts.background]
        await until_stopped(
            stop, loop.wait(), api.task, *background, *relayed, *([reports.wait()] if reports else [])
        )
    log.info("hub stopped")


async def rebuild(settings: HubSettings, into: Path) -> int:
    """Replay every input from the start into a fresh store at ``into``. Returns the records applied."""
    parts = _Parts(settings)
    stop = asyncio.Event()
    store = Store(into, hub_store.SCHEMA)
    async with AsyncExitStack() as stack:
        producer = await stack.enter_async_context(Producer(settings.kafka))
        processor_inputs = parts.processor(lambda _: None).inputs
        ends = await end_offsets(settings.kafka, processor_inputs)
        group = f"{settings.consumer_settings().group_id}.rebuild-{uuid.uuid4().hex[:8]}"
        await _consumer(stack, parts, store, producer, lambda _: None, group, stop, publish=False)
        while not await wait_or_stop(stop, 0.1):
            done = store.offsets()
            if all(done.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items()):
                break
        stop.set()
    store.open()
    with store.transaction() as tx:
        tx.execute("DELETE FROM kernel_outbox")
    applied = sum(store.offsets().values())
    store.close()
    return applied
