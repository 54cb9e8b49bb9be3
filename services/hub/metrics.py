"""The hub's metrics: end-to-end latency, cases by RAG, enquiries outstanding and breached, outcomes, and
the measures a MASH is judged by (docs/measures.md).

Labels stay bounded: subscriber, agency, RAG rating, route template, status and fixed yes/no values, never
a referral id or anything about a person.

What a replay does to the counters: a fact (a referral received, its first outcome, an enquiry's first
answer, an outcome) is counted by ``services.hub.tally`` only when its row is first written to this store,
and only once the transaction that wrote it has committed; so a release delivered twice, a batch rolled
back and applied again, or a record re-read after a crash counts once. A rebuild (``jigsaw hub rebuild``)
replays into a fresh store in a process of its own whose registry nobody scrapes: the live counters are
untouched, and start from zero, as any counter does, when the hub restarts on the rebuilt store. A live
hub given an empty store counts every fact again, once: counts are per store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from jigsaw.bus.store import Conn
from jigsaw.metrics import LATENCY_BUCKETS
from jigsaw.wire.framing import now_micros
from services.hub import query
from services.hub.stage import route

log = logging.getLogger(__name__)
_HOUR = 3600.0
# Partners' deadlines run from 2 hours to 72 working hours (about a week of clock time, over a weekend).
_RESPONSE_BUCKETS = tuple(h * _HOUR for h in (0.25, 1, 2, 4, 6, 8, 24, 48, 72, 168, 336))
# The schemas' RAG ratings (UNKNOWN: not yet rated), each given a value even when nothing has it.
RAGS = ("RED", "AMBER", "GREEN", "UNKNOWN")
GAUGE_REFRESH_S = 10.0


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


class _OnScrape(Collector):
    """Calls ``hook`` on each scrape and reports nothing itself."""

    def __init__(self, hook: Callable[[], None]) -> None:
        self._hook = hook

    def describe(self) -> Iterable[Metric]:
        return []  # so registering it does not call the hook

    def collect(self) -> Iterable[Metric]:
        self._hook()
        return []


class HubMetrics:
    def __init__(self, registry: CollectorRegistry, subscriber: str) -> None:
        self.subscriber = subscriber
        self._latency = Histogram(
            "jigsaw_hub_end_to_end_seconds",
            "From a message's created_at to its case view being updated.",
            ["subscriber"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # The broker's part and the hub's, apart from what happened before the release: a section held
        # until a desk is assigned, consent is given or a review approves it counts its wait in the
        # end-to-end histogram, and none of it here.
        self._since_release = Histogram(
            "jigsaw_hub_release_to_view_seconds",
            "From the broker's release record (its Kafka timestamp) to the case view being updated.",
            ["subscriber"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cases = Gauge(
            "jigsaw_hub_cases", "Cases by RAG rating.", ["subscriber", "rag"], registry=registry
        )
        self.breached = Gauge(
            "jigsaw_hub_breached_enquiries",
            "Enquiries still unanswered past their deadline, by the enquiry's RAG rating.",
            ["subscriber", "rag"],
            registry=registry,
        )
        self.outstanding = Gauge(
            "jigsaw_hub_enquiries_outstanding",
            "Enquiries not yet answered, by the enquiry's RAG rating.",
            ["subscriber", "rag"],
            registry=registry,
        )
        self._measures(registry)
        # Labels stay bounded: the route is the matched template (or "other"), never the requested path.
        self._refusals = Counter(
            "jigsaw_hub_api_refusals",
            "API requests refused, by route template and status.",
            ["subscriber", "route", "status"],
            registry=registry,
        )
        self._requests = Counter(
            "jigsaw_hub_api_requests",
            "API requests, by route template and status.",
            ["subscriber", "route", "status"],
            registry=registry,
        )
        self._watched: tuple[Conn, asyncio.AbstractEventLoop] | None = None
        self._refresh_due = False
        self._next_refresh = 0.0
        registry.register(_OnScrape(self._scraped))

    def _measures(self, registry: CollectorRegistry) -> None:
        """The measures a MASH is judged by (docs/measures.md)."""
        self._outcomes = Counter(
            "jigsaw_hub_outcomes",
            "Outcomes by the split a MASH is judged on.",
            ["subscriber", "route", "outcome"],
            registry=registry,
        )
        self.time_to_decision = Histogram(
            "jigsaw_hub_time_to_decision_seconds",
            "From referral received to its first outcome.",
            ["subscriber"],
            buckets=(600, 3600, 4 * 3600, 24 * 3600, 72 * 3600, 7 * 86400),
            registry=registry,
        )
        self._decided = Counter(
            "jigsaw_hub_contacts_decided",
            "Referrals given their first outcome, and whether within one working day of receipt.",
            ["subscriber", "within_one_working_day"],
            registry=registry,
        )
        self._responses = Counter(
            "jigsaw_hub_enquiry_responses",
            "Enquiries answered by the agency asked, and whether by the enquiry's deadline.",
            ["subscriber", "agency", "on_time"],
            registry=registry,
        )
        self._response_time = Histogram(
            "jigsaw_hub_enquiry_response_seconds",
            "From an enquiry being sent to the agency's first return answering it (clock time).",
            ["subscriber", "agency"],
            buckets=_RESPONSE_BUCKETS,
            registry=registry,
        )
        self._referrals = Counter(
            "jigsaw_hub_referrals",
            "Referrals received, and whether each is a re-referral (within 12 months, the same child).",
            ["subscriber", "re_referral"],
            registry=registry,
        )

    def refused(self, route: str, status: int) -> None:
        self._refusals.labels(self.subscriber, route, str(status)).inc()

    def request(self, route: str, status: int) -> None:
        self._requests.labels(self.subscriber, route, str(status)).inc()

    def assembled(self, latency_us: int, since_release_us: int | None = None) -> None:
        self._latency.labels(self.subscriber).observe(max(latency_us, 0) / 1e6)
        if since_release_us is not None:
            self._since_release.labels(self.subscriber).observe(max(since_release_us, 0) / 1e6)

    def outcome(self, outcome: str) -> None:
        self._outcomes.labels(self.subscriber, route(outcome), outcome).inc()

    def decided(self, within_one_working_day: bool, seconds: float) -> None:
        self._decided.labels(self.subscriber, yes_no(within_one_working_day)).inc()
        self.time_to_decision.labels(self.subscriber).observe(max(seconds, 0.0))

    def responded(self, agency: str, on_time: bool, seconds: float) -> None:
        self._responses.labels(self.subscriber, agency, yes_no(on_time)).inc()
        self._response_time.labels(self.subscriber, agency).observe(max(seconds, 0.0))

    def referred(self, re_referral: bool) -> None:
        self._referrals.labels(self.subscriber, yes_no(re_referral)).inc()

    # -- the gauges, read from the store (breached depends on the clock) ---------------------------------
    def refresh_gauges(self, conn: Conn, now_us: int) -> None:
        """Set the cases, outstanding and breached gauges from the store as of ``now_us``. Instances that
        share a store each report all of it: aggregate them with ``max``, not ``sum``."""
        counts = query.outstanding_enquiries(conn, now_us)
        cases = query.cases_by_rag(conn)
        for rag in sorted({*RAGS, *counts, *cases}):
            outstanding, breached = counts.get(rag, (0, 0))
            self.outstanding.labels(self.subscriber, rag).set(outstanding)
            self.breached.labels(self.subscriber, rag).set(breached)
            self.cases.labels(self.subscriber, rag).set(cases.get(rag, 0))

    def watch(self, conn: Conn, loop: asyncio.AbstractEventLoop) -> None:
        """Keep the gauges current from ``conn``, which belongs to ``loop``: each scrape (from the
        metrics server's own thread) asks the loop to refresh them, so a scrape shows them as of the
        previous one, and no connection is ever used off the thread that owns it."""
        self._watched = (conn, loop)
        self._scraped()

    @property
    def watching(self) -> bool:
        return self._watched is not None

    def _scraped(self) -> None:
        # Two aggregates over the store run on the event loop: at most one refresh per interval, however
        # many Prometheus servers scrape how often.
        if self._watched is None or self._refresh_due or time.monotonic() < self._next_refresh:
            return
        self._refresh_due = True
        self._next_refresh = time.monotonic() + GAUGE_REFRESH_S
        try:
            self._watched[1].call_soon_threadsafe(self._refresh)
        except RuntimeError:  # the loop has closed: the hub is stopping
            self._refresh_due = False

    def _refresh(self) -> None:
        self._refresh_due = False
        if self._watched is None:
            return
        try:
            self.refresh_gauges(self._watched[0], now_micros())
        except Exception as exc:  # a store that is away for now: the next scrape asks again
            log.warning("could not refresh the hub's gauges: %s", type(exc).__name__)
