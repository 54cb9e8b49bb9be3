"""Sealed messages through the real Kafka, opened on the other side with keys from the published directory."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from devkit.testkit.wire import contact, identity, incidents, intel_body, make_world, normalized
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.envelope import Envelopes, Opened, SectionInput, Withhold
from tests.integration import kafkautil as ku

R = "R-0190aa77"


async def test_seal_publish_rekey_and_open_through_kafka_with_keys_from_the_directory(
    kafka: KafkaSettings, topics: Topics, group: ConsumerSettings, registry: SchemaRegistry
) -> None:
    world = make_world(registry)
    specs = topics.specs(["police"], ["csc-mash"], partitions=2)
    await ensure_topics(kafka, specs)
    # The admin publishes the directory, plus one forged record that must be dead-lettered, not applied.
    forged_key, forged = world.records[0]
    forged = forged[:-3] + bytes([forged[-3] ^ 1]) + forged[-2:]
    await ku.produce(kafka, topics.keys, [(k, v) for k, v in world.records] + [(forged_key, forged)])

    metrics = KernelMetrics(CollectorRegistry(), "wire")
    codec = DeadLetterCodec(registry, "wire")
    root_public = world.root.current.sign.public_key()
    async with Producer(kafka) as producer:
        dlq = DeadLetterPublisher(producer, codec, topics.dlq, metrics)
        directory = KeyDirectory(registry, root_public)
        async with KeyDirectoryFollower(kafka, topics.keys, directory, metrics, dlq) as follower:
            await follower.wait_loaded()
            assert set(directory.participants()) >= {"police.devon", "broker", "csc-mash"}

            police = Envelopes(registry, directory, world.keys["police.devon"])
            broker = Envelopes(registry, directory, world.keys["broker"])
            csc = Envelopes(registry, directory, world.keys["csc-mash"])
            sealed = police.seal(
                kind="INTEL",
                referral_id=R,
                body=intel_body(),
                recipients=["broker"],
                sections=[
                    SectionInput("identity", identity()),
                    SectionInput("police_incidents", incidents()),
                    SectionInput("contact", contact()),
                ],
            )
            await producer.send_and_wait(topics.intel("police"), sealed, key=R.encode())
            await producer.send_and_wait(topics.intel("police"), sealed[:-9], key=R.encode())

            async def broker_handler(record: Record) -> Outcome:
                assert record.value is not None
                verified = broker.verify(record.value, record.key)
                release = broker.rekey(
                    verified,
                    "csc-mash",
                    {("police_incidents", "S1"): Withhold("not at screening", "R-7")},
                    decision_id="D-1",
                    policy_version="isa-1",
                )
                await producer.send_and_wait(topics.release("csc-mash"), release, key=record.key)
                return COMMIT

            loop = ConsumeLoop(
                kafka=kafka,
                consumer=group,
                topics=[topics.intel("police")],
                handler=broker_handler,
                metrics=metrics,
                dlq=dlq,
            )
            async with loop:
                await ku.eventually(
                    lambda: _count(kafka, topics.release("csc-mash"), 1), what="one release published"
                )
                await ku.eventually(lambda: _count(kafka, topics.dlq, 2), what="two dead letters")

    (release,) = await ku.read_all(kafka, topics.release("csc-mash"))
    assert release.value is not None
    opened: Opened = csc.open(release.value, release.key)
    assert opened.release is not None
    assert opened.sender == "police.devon", "the agency's signature verified end to end"
    assert opened.section("identity", "S1").payload == normalized(registry, "identity", identity())  # type: ignore[union-attr]
    notice = opened.section("police_incidents", "S1")
    assert notice is not None
    assert notice.withheld == Withhold("not at screening", "R-7")

    reasons = sorted(codec.decode(r.value)["reason"] for r in await ku.read_all(kafka, topics.dlq))  # type: ignore[arg-type]
    assert reasons == ["BAD_SIGNATURE", "TRUNCATED"]
    for record in await ku.read_all(kafka, topics.intel("police")):
        assert b"Hartley-Price" not in (record.value or b""), "no plaintext on the topic"


async def _count(kafka: KafkaSettings, topic: str, n: int) -> bool:
    return len(await ku.read_all(kafka, topic)) >= n
