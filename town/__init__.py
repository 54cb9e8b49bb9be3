"""Synthetic agency systems for the demo, the tests and the benchmarks: a seeded town and the scenarios.

::

    summary = generate(Path("/tmp/town"), households=1000, seed=7, today=date(2026, 11, 2))
    secrets = sensitive_values(Path("/tmp/town"))   # for a plaintext scan of the Kafka topics
"""

from town.generator import Summary, generate
from town.truth import sensitive_values

__all__ = ["Summary", "generate", "sensitive_values"]
