"""The measures a MASH is judged by, counted as the consumer learns each fact (docs/measures.md).

A fact counts once per store: when the row that makes it true is first written (a referral's metadata,
its first outcome, an enquiry's first answer), whichever of the two rows it needs came second, since the
broker's releases of a referral need not come in the order things happened. And it counts only once the
transaction that wrote it has committed: the consumer commits a batch of records at once, and a batch
rolled back (a store failure) is applied again from the start, which must not count twice. Prometheus
counters cannot be taken back, so the facts of each record are held until the store's own offset for the
record's partition has moved past it, which commits with the record's writes or not at all.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from jigsaw.bus.records import Record
from jigsaw.bus.store import Conn, Tx
from jigsaw.workhours import WorkingHours
from services.hub.metrics import HubMetrics
from services.hub.persons import re_referred

log = logging.getLogger(__name__)
_US = 1e6


class Referred(NamedTuple):
    re_referral: bool


class Decided(NamedTuple):
    within_one_working_day: bool
    seconds: float


class Answered(NamedTuple):
    agency: str
    on_time: bool
    seconds: float


class Outcome(NamedTuple):
    outcome: str


Fact = Referred | Decided | Answered | Outcome
_Where = tuple[str, int, int]  # topic, partition, offset


def referral(tx: Tx, referral_id: str, roles: dict[str, str] | None, clock: WorkingHours) -> list[Fact]:
    """A referral first written here; ``roles`` its subjects' where the person index is kept (the front
    door), judged against the index as it stands now. Decided too if its first outcome came first."""
    facts: list[Fact] = []
    if roles is not None:
        facts.append(Referred(bool(re_referred(tx.conn, referral_id, roles))))
    decided = _decided(tx, referral_id, clock)
    return facts + ([decided] if decided else [])


def outcome(tx: Tx, referral_id: str, what: str, clock: WorkingHours) -> list[Fact]:
    """An outcome first written here: counted itself, and as the decision if it is the referral's first."""
    (n,) = tx.execute("SELECT count(*) FROM outcomes WHERE referral_id = ?", (referral_id,)).fetchone()
    facts: list[Fact] = [Outcome(what)]
    decided = _decided(tx, referral_id, clock) if n == 1 else None
    return facts + ([decided] if decided else [])


def _decided(tx: Tx, referral_id: str, clock: WorkingHours) -> Decided | None:
    row = tx.execute(
        "SELECT m.received_at, (SELECT min(o.decided_at) FROM outcomes o WHERE o.referral_id = ?)"
        " FROM referral_meta m WHERE m.referral_id = ?",
        (referral_id, referral_id),
    ).fetchone()
    if row is None or row[1] is None:
        return None
    received, first = row
    return Decided(first <= clock.decision_due_us(received), (first - received) / _US)


def enquiry(tx: Tx, enquiry_id: str) -> list[Fact]:
    """An enquiry first written here: answered already if a return naming it came first."""
    return _answered(tx, enquiry_id)


def answer(tx: Tx, enquiry_id: str) -> list[Fact]:
    """A return's answer first written here: the enquiry's response if it is its first answer."""
    (n,) = tx.execute("SELECT count(*) FROM answers WHERE enquiry_id = ?", (enquiry_id,)).fetchone()
    return _answered(tx, enquiry_id) if n == 1 else []


def _answered(tx: Tx, enquiry_id: str) -> list[Fact]:
    row = tx.execute(
        "SELECT e.agency, e.sent_at, e.deadline,"
        " (SELECT min(a.answered_at) FROM answers a WHERE a.enquiry_id = e.enquiry_id)"
        " FROM enquiries e WHERE e.enquiry_id = ?",
        (enquiry_id,),
    ).fetchone()
    if row is None or row[3] is None:
        return []
    agency, sent, deadline, answered = row
    # On time by the rule that marks an enquiry breached (services.hub.query): answered by its deadline.
    return [Answered(agency, answered <= deadline, (answered - sent) / _US)]


class Tally:
    """The facts of records applied but not yet known to be committed, and their counting."""

    def __init__(self, metrics: HubMetrics) -> None:
        self._metrics = metrics
        self._held: dict[_Where, list[Fact]] = {}

    @staticmethod
    def _where(record: Record) -> _Where:
        return (record.topic, record.partition, record.offset)

    def hold(self, record: Record, facts: list[Fact]) -> None:
        """``record``'s facts, replacing any of an earlier attempt at it: a record is handed to the
        consumer again only if that attempt was not committed (committed ones are skipped by offset)."""
        where = self._where(record)
        if facts:
            self._held[where] = facts
        else:
            self._held.pop(where, None)

    @property
    def held(self) -> int:
        return len(self._held)

    def settle(self, conn: Conn) -> int:
        """Count the held facts whose records committed, forget those that were rolled back (they are
        applied again, and held again), and return how many facts were counted. Call it between
        transactions: the offsets read are then the committed ones."""
        counted = 0
        by_partition: dict[tuple[str, int], int] = {}
        for where in sorted(self._held):
            topic, partition, offset = where
            if (topic, partition) not in by_partition:
                try:
                    row = conn.execute(
                        "SELECT next_offset FROM kernel_offsets WHERE topic = ? AND partition = ?",
                        (topic, partition),
                    ).fetchone()
                except Exception as exc:  # the store is away: keep them for the next settle
                    log.warning("could not settle the hub's measures: %s", type(exc).__name__)
                    return counted
                by_partition[(topic, partition)] = int(row[0]) if row else 0
            facts = self._held.pop(where)
            if offset < by_partition[(topic, partition)]:
                for fact in facts:
                    self._count(fact)
                    counted += 1
        return counted

    def _count(self, fact: Fact) -> None:
        m = self._metrics
        if isinstance(fact, Referred):
            m.referred(fact.re_referral)
        elif isinstance(fact, Decided):
            m.decided(fact.within_one_working_day, fact.seconds)
        elif isinstance(fact, Answered):
            m.responded(fact.agency, fact.on_time, fact.seconds)
        else:
            m.outcome(fact.outcome)
