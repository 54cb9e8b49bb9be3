"""The measures a MASH is judged by, for a period, computed from a hub's case store (``jigsaw report``).

Read from the store's facts, not from Prometheus: the counters start from zero with each process and
count only what that process saw, whereas the store holds every fact the hub was given, and a rebuilt
store gives the same answer. docs/measures.md defines each measure as computed here. Every statement is
a constant in SQLite's dialect, so the same code runs on the PostgreSQL store.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jigsaw.bus.store import Conn
from jigsaw.workhours import WorkingHours
from services.hub import query
from services.hub.persons import re_referred
from services.hub.stage import ROUTES, route

_US = 1_000_000
_HOUR_US = 3600 * _US
# The early evaluation of Devon's MASH (DOMAIN.md, "How a MASH is judged"): the share of enquiries that
# became referrals to children's social care, and the share that went to early response.
DEVON = {"childrens_social_care": 0.48, "early_help": 0.24}
# A span longer than this is not a response time but a fault in the data; the bound keeps the working-hours
# walk from running on for ever.
_MAX_DAYS = 3660

_CONTACTS = (
    "SELECT m.referral_id, m.received_at,"
    " (SELECT min(o.decided_at) FROM outcomes o WHERE o.referral_id = m.referral_id),"
    " (SELECT o.outcome FROM outcomes o WHERE o.referral_id = m.referral_id"
    " ORDER BY o.decided_at DESC, o.decision_id DESC LIMIT 1)"
    " FROM referral_meta m WHERE m.received_at >= :start AND m.received_at < :end ORDER BY m.referral_id"
)
_ENQUIRIES = (
    "SELECT e.agency, e.sent_at, e.deadline,"
    " (SELECT min(a.answered_at) FROM answers a WHERE a.enquiry_id = e.enquiry_id)"
    " FROM enquiries e WHERE e.sent_at >= :start AND e.sent_at < :end ORDER BY e.agency, e.enquiry_id"
)
_INDEXED = (
    "SELECT EXISTS (SELECT 1 FROM person_index p JOIN referral_meta m ON m.referral_id = p.referral_id"
    " WHERE m.received_at >= :start AND m.received_at < :end)"
)


@dataclass(frozen=True)
class Contacts:
    received: int
    decided: int  # given an outcome by the time of the report
    within_one_working_day: int  # first outcome by the end of the working day after receipt
    awaiting: int  # no outcome yet, and not yet due


@dataclass(frozen=True)
class Split:
    decided: int
    by_route: dict[str, int]  # each decided contact's latest outcome, by route


@dataclass(frozen=True)
class Responses:
    agency: str
    sent: int
    answered: int
    on_time: int  # first answer by the deadline
    late: int  # first answer after the deadline, or none and the deadline passed
    pending: int  # no answer, and the deadline still ahead
    median: float | None  # response time of the answered, in ``Measures.unit``
    p90: float | None


@dataclass(frozen=True)
class Referrals:
    received: int
    re_referrals: int | None  # None: the store keeps no person index (only the front door does)


@dataclass(frozen=True)
class Measures:
    subscriber: str
    first: date
    last: date
    unit: str  # "working hours" or "hours"
    contacts: Contacts
    split: Split
    responses: list[Responses] = field(default_factory=list)
    referrals: Referrals = Referrals(0, None)


def bounds(first: date, last: date, zone: str) -> tuple[int, int]:
    """The period from the start of ``first`` to the end of ``last``, local days in ``zone``, in the
    bus's microseconds: the start inclusive, the end exclusive."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0), tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tz)
    return _micros(start), _micros(end)


def _micros(when: datetime) -> int:
    return round(when.timestamp() * _US)


def _instant(us: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(us / _US, UTC).astimezone(tz)


def working_hours_between(clock: WorkingHours, start_us: int, end_us: int) -> float:
    """The working hours of ``clock`` from ``start_us`` to ``end_us`` (zero if it ends first)."""
    tz = ZoneInfo(clock.time_zone)
    start, end = _instant(start_us, tz), _instant(end_us, tz)
    total = timedelta(0)
    day = start.date()
    for _ in range(_MAX_DAYS):
        if day > end.date():
            break
        if clock.is_working_day(day):
            opens = datetime.combine(day, clock.start, tz)
            closes = datetime.combine(day, clock.end, tz)
            overlap = min(end, closes) - max(start, opens)
            total += max(overlap, timedelta(0))
        day += timedelta(days=1)
    return total.total_seconds() / 3600


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``share`` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def measures(
    conn: Conn,
    subscriber: str,
    first: date,
    last: date,
    now_us: int,
    clock: WorkingHours | None = None,
    responses_in_working_hours: bool = True,
) -> Measures:
    """The measures of contacts received and enquiries sent from ``first`` to ``last`` (local days of
    the working-hours time zone), each as it stands at ``now_us``."""
    clock = clock or WorkingHours()
    span = dict(zip(("start", "end"), bounds(first, last, clock.time_zone), strict=True))
    rows = list(conn.execute(_CONTACTS, span))
    return Measures(
        subscriber=subscriber,
        first=first,
        last=last,
        unit="working hours" if responses_in_working_hours else "hours",
        contacts=_contacts(rows, now_us, clock),
        split=_split(rows),
        responses=_responses(conn, span, now_us, clock if responses_in_working_hours else None),
        referrals=_referrals(conn, span, [r[0] for r in rows]),
    )


def _contacts(
    rows: list[tuple[str, int, int | None, str | None]], now_us: int, clock: WorkingHours
) -> Contacts:
    decided = within = awaiting = 0
    for _, received, first, _ in rows:
        due = clock.decision_due_us(received)
        if first is None:
            awaiting += now_us <= due
            continue
        decided += 1
        within += first <= due
    return Contacts(len(rows), decided, within, awaiting)


def _split(rows: list[tuple[str, int, int | None, str | None]]) -> Split:
    by_route = dict.fromkeys(ROUTES, 0)
    for *_, latest in rows:
        if latest is not None:
            by_route[route(latest)] = by_route.get(route(latest), 0) + 1
    return Split(sum(by_route.values()), by_route)


def _responses(conn: Conn, span: dict[str, int], now_us: int, clock: WorkingHours | None) -> list[Responses]:
    by_agency: dict[str, list[tuple[int, int, int | None]]] = {}
    for agency, sent, deadline, answered in conn.execute(_ENQUIRIES, span):
        by_agency.setdefault(agency, []).append((sent, deadline, answered))
    out = []
    for agency, enquiries in sorted(by_agency.items()):
        answered = [(s, d, a) for s, d, a in enquiries if a is not None]
        on_time = sum(1 for _, d, a in answered if a <= d)
        pending = sum(1 for _, d, a in enquiries if a is None and now_us <= d)
        times = [
            working_hours_between(clock, s, a) if clock is not None else (a - s) / _HOUR_US
            for s, _, a in answered
        ]
        out.append(
            Responses(
                agency=agency,
                sent=len(enquiries),
                answered=len(answered),
                on_time=on_time,
                late=len(enquiries) - on_time - pending,
                pending=pending,
                median=statistics.median(times) if times else None,
                p90=percentile(times, 0.9),
            )
        )
    return out


def _referrals(conn: Conn, span: dict[str, int], referral_ids: list[str]) -> Referrals:
    if not conn.execute(_INDEXED, span).fetchone()[0]:
        return Referrals(len(referral_ids), None)
    again = 0
    for rid in referral_ids:
        roles = query.case_subjects(conn, rid) or {}
        again += bool(re_referred(conn, rid, roles))
    return Referrals(len(referral_ids), again)


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole``, or None when there is no whole to share."""
    return part / whole if whole else None
