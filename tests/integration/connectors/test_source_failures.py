"""A source that fails for a while loses no enquiry: through the real Kafka, the connector retries the
enquiry while its source is down and while it refuses an expired token, and answers it exactly once when
the source recovers (a renewed token in ``token_file``)."""

from __future__ import annotations

from pathlib import Path

from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.connectors.connkit import ConnectorRig, SourceApi
from tests.integration.kafkautil import eventually


async def test_a_source_down_then_refusing_an_expired_token_then_back_answers_the_enquiry_once(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    token_file = tmp_path / "source-token"
    token_file.write_text("expired-token\n")
    api = SourceApi(token="renewed-token")
    api.down = True
    async with api.serving():
        rig = await ConnectorRig.create(kafka, topics, registry, tmp_path)
        consumer = rig.config.consumer_settings().model_copy(update={"retry_backoff_max_s": 0.3})
        rig.config = rig.config.model_copy(update={"source": api.config(token_file), "consumer": consumer})
        await rig.start()
        try:
            enquiry_id = await rig.enquire(
                "R-500", [{"subject_ref": "S1", "given": "Callum", "family": "Hartley", "dob": "2014-03-02"}]
            )
            await eventually(lambda: api.calls.count(503) >= 3, what="the enquiry retried while down")
            api.down = False  # back, but the connector's token has expired meanwhile
            await eventually(lambda: api.calls.count(401) >= 3, what="the enquiry retried while refused")
            assert await read_to_end(rig.kafka, rig.topics.intel("police")) == []

            token_file.write_text("renewed-token\n")

            async def answered(n: int) -> bool:
                return len(await read_to_end(rig.kafka, rig.topics.intel("police"))) >= n

            await eventually(lambda: answered(1), what="the return once the source answers")
            await rig.enquire(  # a later enquiry on the same partition is answered too
                "R-500", [{"subject_ref": "S2", "given": "Dean", "family": "Hartley", "dob": "1988-07-19"}]
            )
            await eventually(lambda: answered(2), what="the next enquiry's return")
        finally:
            await rig.close()

    returns = await read_to_end(rig.kafka, rig.topics.intel("police"))
    broker = rig.world.party("broker")
    bodies = [broker.open(r.value or b"", r.key).body for r in returns]
    first = [b for b in bodies if b["enquiry_id"] == enquiry_id]
    assert len(bodies) == 2
    assert len(first) == 1, "answered exactly once"
    assert first[0]["matches"][0]["method"] != "NONE"
    assert first[0]["nothing_held_categories"] == []
    assert await read_to_end(rig.kafka, rig.topics.dlq) == [], "nothing dead-lettered"
