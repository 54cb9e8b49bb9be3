"""A real single-node Apache Kafka on loopback, fetched by Maven and managed by ``jigsaw kafka``."""

from devkit.localkafka.config import LocalKafkaSettings
from devkit.localkafka.manager import KafkaStatus, LocalKafka, client_for

__all__ = ["KafkaStatus", "LocalKafka", "LocalKafkaSettings", "client_for"]
