"""The connector runtime: everything but the agency's lookup.

For each enquiry addressed to this agency it opens the enquiry with the agency's key, finds candidates in
the source and matches each subject, looks up what is held and the confidential-address markers,
validates every source record, maps the records to the category payloads (each identifier scheme, the
addresses and each scoped contact in its own category: :mod:`connectors.sdk.returns`), seals the return
for the broker, and commits it to a local outbox with the consumed offset in one SQLite transaction. The
outbox publishes with an idempotent producer once Kafka is reachable, so a Kafka outage or a restart
loses nothing and publishes nothing twice: a return's msg_id is derived from the enquiry's, and any
re-send is an exact copy. Each scoped contact category held travels in a return of its own (same enquiry,
its id derived from the main return's), so that the broker can withhold it without naming it.

A source that does not answer loses no enquiry: nothing held is answered as such, an unavailable source
leaves the enquiry to be retried by the consume loop (its partition waits), and a misconfigured one stops
the connector, since every later enquiry would fail the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from connectors.sdk.adapters import NothingHeld, SourceAdapter, SourceError, SourceMisconfigured
from connectors.sdk.base import Connector, MatchedSubject, SourceRecord
from connectors.sdk.contacts import ContactRouting
from connectors.sdk.intake import ReportReferral, report_message
from connectors.sdk.matching import Match, Matcher, Person
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.returns import (
    Return,
    build_return,
    enquiry_subjects,
    lookup_categories,
    split_scoped,
    wanted_categories,
)
from jigsaw.bus.dlq import DeadLetterCodec, log_dead_letter
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.records import COMMIT, HEADER_KIND, HEADER_MSG_ID, Outcome, Record
from jigsaw.bus.store import Store
from jigsaw.errors import (
    ConfigError,
    FatalError,
    PayloadInvalid,
    RejectedInput,
    SourceRecordInvalid,
    UnauthorizedSender,
)
from jigsaw.ids import derived_id, keyed_id, new_msg_id, new_referral_id
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, Opened, SectionInput

log = logging.getLogger(__name__)
VERSION = "jigsaw-connector/1"
T = TypeVar("T")


class ConnectorRuntime:
    def __init__(
        self,
        *,
        participant_id: str,
        agency: str,
        connector: Connector,
        adapter: SourceAdapter,
        envelopes: Envelopes,
        store: Store,
        outbox: OutboxPublisher,
        topics: Topics,
        metrics: ConnectorMetrics,
        kernel_metrics: KernelMetrics,
        dead_letters: DeadLetterCodec,
        matcher: Matcher,
        broker: str = "broker",
        front_door: str = "hub.devon",
        contacts: ContactRouting | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.agency = agency
        self.connector = connector
        self.adapter = adapter
        self.envelopes = envelopes
        self.store = store
        self.outbox = outbox
        self.topics = topics
        self.metrics = metrics
        self.kernel_metrics = kernel_metrics
        self.dead_letters = dead_letters
        self.matcher = matcher
        self.broker = broker
        self.front_door = front_door
        self.contacts = contacts or ContactRouting()

    # -- enquiries ------------------------------------------------------------------------------------
    async def __call__(self, record: Record) -> Outcome:
        """The consume loop's handler. Lookups run first; the outcome commits in one transaction, with the
        offset, so a rejection is dead-lettered exactly once too."""
        with self.store.transaction() as tx:
            if record.offset < tx.next_offset(record.topic, record.partition):
                return COMMIT  # fetched again after a rebalance's seek: handled once already
        try:
            return await self._enquiry(record)
        except SourceError as exc:
            self.metrics.source_errors.labels(type(exc).__name__).inc()
            if isinstance(exc, FatalError):
                log.critical("stopping: %s", exc)
            raise  # retried by the consume loop, or fatal
        except RejectedInput as exc:
            with self.store.transaction() as tx:
                tx.enqueue(
                    self.topics.dlq, self.dead_letters.encode(record, exc.reason, str(exc)), key=record.key
                )
                tx.set_offset(record.topic, record.partition, record.offset + 1)
            self.kernel_metrics.dead_lettered(exc.reason)
            log_dead_letter(log, record, exc.reason, detail_code=type(exc).__name__)
            self.outbox.notify()
            return COMMIT

    async def _enquiry(self, record: Record) -> Outcome:
        verified = self.envelopes.verify(record.value or b"", record.key)
        if verified.envelope["kind"] != "ENQUIRY":
            raise PayloadInvalid(f"a {verified.envelope['kind']} message on the enquiries topic")
        # Choosing whom an agency searches for belongs to the MASH front door alone; judged by the key
        # that signed, not the sender's current one.
        signer = verified.signer
        if signer.role != "HUB" or signer.participant_id != self.front_door:
            raise UnauthorizedSender(f"{signer.participant_id} is not the front door; it may not ask")
        if self.participant_id not in verified.body["addressed_agencies"]:
            # Another agency's enquiry: not ours to open, and nothing wrong with it.
            with self.store.transaction() as tx:
                tx.set_offset(record.topic, record.partition, record.offset + 1)
            return COMMIT
        opened = self.envelopes.open(record.value or b"", record.key)
        self.metrics.enquiries.inc()
        started = time.perf_counter()
        matched = await self._match(opened)
        asked = list(opened.body["categories"])
        answer = await self._answer(matched, asked)
        self.metrics.lookup_seconds.observe(time.perf_counter() - started)
        messages = self._seal_answer(opened, matched, answer, asked)
        lettered: list[SourceRecordInvalid] = []
        with self.store.transaction() as tx:
            # The answer is its messages together: all are queued in this one transaction, with the
            # offset, or none is; the outbox then sends each until Kafka acknowledges it, and a re-send
            # (or a re-run of the enquiry: the ids are derived from it) is the same id again.
            if tx.first_seen(opened.msg_id, record.value or b""):
                self._enqueue_return(tx, opened.referral_id, messages)
                for marker in answer.markers:
                    self.metrics.markers.labels(marker["scope"]).inc()
                for bad in answer.invalid:
                    tx.enqueue(
                        self.topics.dlq,
                        self.dead_letters.encode(record, bad.reason, str(bad)),
                        key=record.key,
                    )
                    self.kernel_metrics.dead_lettered(bad.reason)
                    lettered.append(bad)
            tx.set_offset(record.topic, record.partition, record.offset + 1)
        for rejected in lettered:  # once committed: a transaction that failed wrote no dead letter
            log_dead_letter(log, record, rejected.reason, detail_code=type(rejected).__name__)
        self.outbox.notify()
        return COMMIT

    async def _answer(self, matched: list[MatchedSubject], asked: list[str]) -> Return:
        """What this agency holds on ``matched`` for ``asked``, and its confidential-address markers."""
        wanted = wanted_categories(asked)
        findings = await self._ask(self.connector.lookup(matched, lookup_categories(wanted)))
        markers = await self._ask(self.connector.markers(matched))
        return build_return(
            agency=self.agency,
            models=self.connector.records,
            findings=findings,
            markers=markers,
            matched=matched,
            wanted=wanted,
            contacts=self.contacts,
        )

    def _seal_answer(
        self, opened: Opened, matched: Sequence[MatchedSubject], answer: Return, asked: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """The answer to ``opened``, sealed: (msg_id, value) of the main return, then of one return per
        scoped contact category held. The broker releases or withholds a whole message (the signature
        covers every section's category), so a scoped contact sent with the rest would tell a desk refused
        it, by its withheld notice's label, the very fact it may not know."""
        main, parts = split_scoped(answer.sections)
        # Keyed by this connector's own secret: the enquiry's id is clear on the bus, and an id derived from
        # it alone could be claimed by another agency first, to have this return refused as a replay.
        msg_id = keyed_id(self.envelopes.keys.id_secret, "return", opened.msg_id, self.participant_id)
        matches = self._matches(opened, matched)
        body = {
            "enquiry_id": opened.body["enquiry_id"],
            "agency": self.agency,
            "unsolicited": False,
            "connector_version": VERSION,
            "matches": matches,
            "nothing_held_categories": answer.nothing_held(asked),
            "confidential_addresses": answer.markers,
        }
        sealed = [(msg_id, self._seal_return(opened, body, main, msg_id))]
        for category, sections in parts.items():
            refs = {s.subject_ref for s in sections}
            part_id = keyed_id(self.envelopes.keys.id_secret, "return-part", msg_id, category)
            part = {
                **body,
                "matches": [m for m in matches if m["subject_ref"] in refs],
                "nothing_held_categories": [],
                "confidential_addresses": [m for m in answer.markers if m["subject_ref"] in refs],
            }
            sealed.append((part_id, self._seal_return(opened, part, sections, part_id)))
        return sealed

    def _seal_return(
        self, opened: Opened, body: dict[str, Any], sections: list[SectionInput], msg_id: str
    ) -> bytes:
        return self.envelopes.seal(
            kind="INTEL",
            referral_id=opened.referral_id,
            body=body,
            sections=sections,
            recipients=[self.broker],
            msg_id=msg_id,
        )

    def _enqueue_return(self, tx: Any, referral_id: str, messages: Sequence[tuple[str, bytes]]) -> None:
        for msg_id, value in messages:
            tx.enqueue(
                self.topics.intel(self.agency),
                value,
                key=referral_id.encode(),
                headers=[(HEADER_MSG_ID, msg_id.encode()), (HEADER_KIND, b"INTEL")],
            )
        self.metrics.returns.labels("enquiry").inc()  # one answer, however many messages carry it

    async def _match(self, opened: Opened) -> list[MatchedSubject]:
        matched = []
        for subject in enquiry_subjects(opened):
            hint = {
                k: getattr(subject, k)
                for k in ("family_name", "given_names", "dob", "postcode", "nhs", "upn", "pnc")
            }
            people = [_person(row) for row in await self._ask(self.adapter.candidates(hint))]
            best = self.matcher.best(subject, people)
            self._count(best)
            if best is not None:
                matched.append(
                    MatchedSubject(
                        subject.subject_ref, best.person.source_id, best.method, round(best.confidence, 4)
                    )
                )
        return matched

    async def _ask(self, asking: Awaitable[list[T]]) -> list[T]:
        """What the source answers, or nothing when it holds nothing (a subject not known here)."""
        try:
            return await asking
        except NothingHeld:
            self.metrics.source_errors.labels(NothingHeld.__name__).inc()
            return []
        except (SourceError, FatalError):
            raise
        except ConfigError as exc:
            # Met while answering (an agency's own lookup may raise one), it recurs on every enquiry:
            # dead-lettering it would drop them all one by one.
            raise SourceMisconfigured(f"{self.adapter.name}: {exc}") from exc

    def _count(self, best: Match | None) -> None:
        if best is None:
            self.metrics.matches.labels("NONE", "false").inc()
        else:
            self.metrics.matches.labels(best.method, str(self.matcher.needs_review(best)).lower()).inc()

    @staticmethod
    def _matches(opened: Opened, matched: Sequence[MatchedSubject]) -> list[dict[str, Any]]:
        by_ref = {m.subject_ref: m for m in matched}
        refs = [s.subject_ref for s in opened.sections if s.category == "identity"]
        return [
            {
                "subject_ref": ref,
                "method": by_ref[ref].method if ref in by_ref else "NONE",
                "confidence": by_ref[ref].confidence if ref in by_ref else 0.0,
                "source_record_count": 1 if ref in by_ref else 0,
            }
            for ref in refs
        ]

    # -- unsolicited intelligence ----------------------------------------------------------------------
    def report(
        self,
        *,
        subject_ref: str,
        records: Sequence[SourceRecord],
        category: str,
        referral_id: str | None = None,
        referral: ReportReferral | Mapping[str, Any] | None = None,
        confidential_address: Literal["PERSON", "ADDRESS"] | None = None,
    ) -> tuple[str, str]:
        """Publish unsolicited intelligence (a coming-to-notice report, a school's concern).

        It goes to the outbox at once, whether or not Kafka is reachable. With ``referral`` (subjects,
        concerns, source_type, summary; see ``ReportReferral``) a REPORT asking the MASH front door to
        open the referral goes with it, in the same transaction and under the same referral id, so the
        front door's referral and this return meet at the broker. Everything is sealed before anything is
        written: a referral that does not fit its schemas raises, and nothing is queued. With
        ``confidential_address``, the return marks its subject (PERSON) or the addresses it holds on them
        (ADDRESS), as an answer to an enquiry does. Returns (referral_id, msg_id of the return).
        """
        rid = referral_id or new_referral_id()
        msg_id = new_msg_id()
        lists: dict[str, list[dict[str, Any]]] = {}
        for rec in records:
            lists.setdefault(rec.list_field, []).append(rec.item())
        value = self.envelopes.seal(
            kind="INTEL",
            referral_id=rid,
            body=self._unsolicited_body(subject_ref, len(records), confidential_address),
            msg_id=msg_id,
            sections=[SectionInput(category, {"subject_ref": subject_ref, **lists})],
            recipients=[self.broker],
        )
        messages: list[tuple[str, str, bytes]] = [("INTEL", msg_id, value)]
        if referral is not None:
            messages.append(self._report(rid, msg_id, ReportReferral.model_validate(referral)))
        with self.store.transaction() as tx:
            for kind, mid, sealed in messages:
                headers = [(HEADER_MSG_ID, mid.encode()), (HEADER_KIND, kind.encode())]
                tx.enqueue(self.topics.intel(self.agency), sealed, key=rid.encode(), headers=headers)
        self.metrics.returns.labels("unsolicited").inc()
        if referral is not None:
            self.metrics.reports.inc()
        self.outbox.notify()
        return rid, msg_id

    def _unsolicited_body(self, subject_ref: str, count: int, marker: str | None) -> dict[str, Any]:
        return {
            "enquiry_id": None,
            "agency": self.agency,
            "unsolicited": True,
            "connector_version": VERSION,
            "matches": [
                {
                    "subject_ref": subject_ref,
                    "method": "EXACT_LOCAL_ID",
                    "confidence": 1.0,
                    "source_record_count": count,
                }
            ],
            "nothing_held_categories": [],
            "confidential_addresses": [{"subject_ref": subject_ref, "scope": marker}] if marker else [],
        }

    def _report(self, rid: str, return_msg_id: str, referral: ReportReferral) -> tuple[str, str, bytes]:
        """The REPORT for the return ``return_msg_id``, sealed to the front door's hub alone: the broker
        commits it unread, and no subscriber ever receives it. Its id derives from the return's."""
        body, sections = report_message(
            referral, agency=self.agency, source=self.participant_id, return_msg_id=return_msg_id
        )
        msg_id = derived_id("report", return_msg_id, self.participant_id)
        value = self.envelopes.seal(
            kind="REPORT",
            referral_id=rid,
            body=body,
            sections=sections,
            recipients=[self.front_door],
            msg_id=msg_id,
        )
        return "REPORT", msg_id, value


def _person(row: dict[str, Any]) -> Person:
    return Person(
        source_id=str(row["source_id"]),
        given_names=row.get("given_names") or "",
        family_name=row.get("family_name") or "",
        dob=row.get("dob"),
        postcode=row.get("postcode"),
        nhs=row.get("nhs"),
        upn=row.get("upn"),
        pnc=row.get("pnc"),
        ni=row.get("ni"),
        local_id=row.get("local_id"),
    )
