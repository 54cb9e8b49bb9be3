"""Scan every record on every topic of a deployment for the synthetic people's personal data in plaintext.

It searches the raw bytes (keys, values and headers) of every record for every person's names (given and
family, each and together, in every agency's spelling), date of birth as text, address lines, postcode and
identifiers in every stored format, with Aho-Corasick (pyahocorasick) so tens of thousands of needles cost
one pass per record. Needles are six characters or more, and one under eight must end a word. Sealed
sections are AES-GCM ciphertext; anything found is therefore a leak. A date encoded as an Avro int cannot
be told from ciphertext by a byte scan, so dates are looked for as text only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError
from aiokafka.protocol.metadata import MetadataRequest

from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings

# Shorter needles match too easily by chance in ciphertext, and a lone given name identifies nobody;
# whole names ("Amy Cox") are needles of their own, so a short name is still looked for.
MIN_NEEDLE = 6
WHOLE_WORD_BELOW = 8


@dataclass(frozen=True)
class Hit:
    topic: str
    partition: int
    offset: int
    where: str  # key, value or a header's name
    kind: str  # the needle's kind, never the needle itself: the report must not leak either


@dataclass(frozen=True)
class ScanResult:
    topics: int
    records: int
    bytes: int
    needles: int
    hits: list[Hit]
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exposure:
    """What a principal with a valid credential and no grants could see of a deployment's topics."""

    listed: int  # of the deployment's topics, how many its metadata showed it
    records: int  # records it read
    refused: int  # topics whose fetch Kafka refused outright
    topics: int


class Needles:
    def __init__(self, values: Iterable[tuple[str, str]]) -> None:
        self._auto = ahocorasick.Automaton()
        self.count = 0
        for kind, text in values:
            raw = _bytes_as_text(text.strip().encode())
            if len(raw) >= MIN_NEEDLE and raw not in self._auto:
                self._auto.add_word(raw, (kind, len(raw)))
                self.count += 1
        if self.count:
            self._auto.make_automaton()

    def find(self, data: bytes) -> list[str]:
        if not self.count or not data:
            return []
        found = []
        for end, (kind, length) in self._auto.iter(_bytes_as_text(data)):
            # A short needle must end a word ("Morgan" in "Morgans" is not a name of ours). Nothing is asked
            # of the byte before: an Avro string's length prefix may be a letter or a digit.
            after = data[end + 1 : end + 2]
            if length >= WHOLE_WORD_BELOW or not after.isalnum():
                found.append(kind)
        return found


def _bytes_as_text(data: bytes) -> str:
    # The automaton searches str; latin-1 maps each byte to one character, so offsets stay byte offsets
    # and a UTF-8 needle matches exactly the bytes it is encoded as.
    return data.decode("latin-1")


async def topics_with_prefix(kafka: KafkaSettings) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    prefix = f"{kafka.topic_prefix}." if kafka.topic_prefix else ""
    return sorted(n for n in names if n.startswith(prefix) and not n.startswith("__"))


async def scan(kafka: KafkaSettings, needles: Needles) -> ScanResult:
    hits: list[Hit] = []
    records = size = 0
    topics = await topics_with_prefix(kafka)
    for topic in topics:
        for r in await read_to_end(kafka, topic):
            records += 1
            parts = [("key", r.key or b""), ("value", r.value or b"")]
            parts += [(f"header {name}", value or b"") for name, value in r.headers]
            for where, data in parts:
                size += len(data)
                hits += [Hit(topic, r.partition, r.offset, where, kind) for kind in needles.find(data)]
    return ScanResult(len(topics), records, size, needles.count, hits, tuple(topics))


async def _refusals(kafka: KafkaSettings, topics: list[str]) -> dict[str, bool]:
    """Ask Kafka directly for each topic's metadata: is each one refused (TOPIC_AUTHORIZATION_FAILED)?"""
    client = AIOKafkaClient(**kafka.client_kwargs())
    await client.bootstrap()
    try:
        node = client.get_random_node()
        response = await client.send(node, MetadataRequest(topics))
    finally:
        await client.close()
    codes = {t[1]: t[0] for t in response.topics}
    return {t: codes.get(t) == TopicAuthorizationFailedError.errno for t in topics}


async def _records(kafka: KafkaSettings, topic: str) -> int:
    # A fetch without metadata: whatever Kafka would hand it from partition 0 in two seconds.
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        got = await consumer.getmany(timeout_ms=2000)
        return sum(len(v) for v in got.values())
    except TopicAuthorizationFailedError:
        return 0
    finally:
        await consumer.stop()


async def exposure(outsider: KafkaSettings, topics: Iterable[str]) -> Exposure:
    names = list(topics)
    listed = set(await topics_with_prefix(outsider)) & set(names)
    refused = await _refusals(outsider, names)
    # aiokafka logs each refused metadata refresh as an ERROR; here that refusal is the expected answer.
    cluster_log = logging.getLogger("aiokafka.cluster")
    level = cluster_log.level
    cluster_log.setLevel(logging.CRITICAL)
    try:
        records = sum([await _records(outsider, t) for t in names[:3]])
    finally:
        cluster_log.setLevel(level)
    return Exposure(len(listed), records, sum(refused.values()), len(names))


def exposure_sync(outsider: KafkaSettings, topics: Iterable[str]) -> Exposure:
    return asyncio.run(exposure(outsider, topics))


def scan_sync(kafka: KafkaSettings, needles: Needles) -> ScanResult:
    return asyncio.run(scan(kafka, needles))
