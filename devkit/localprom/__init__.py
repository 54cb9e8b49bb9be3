"""A real Prometheus on loopback, scraping a run's services with the project's own rules loaded."""

from devkit.localprom.server import LocalPrometheus, PromLocalError, Target

__all__ = ["LocalPrometheus", "PromLocalError", "Target"]
