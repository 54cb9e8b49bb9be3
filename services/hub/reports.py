"""The MASH front door's side of an agency's unsolicited report: REPORT messages in, referrals opened.

An agency's connector publishes a REPORT on its own intelligence topic, beside the unsolicited return it
goes with and under the same referral id, with the subjects' identities, the narrative and any referrer
sealed to the front door's hub. So no connector holds a credential of the hub's, and a hub that is down
when the report is made reads it when it starts. Only the front door runs this: the hub whose subscriber
is the settings' ``front_door``, else the roster's first subscriber (the decision makers'), and which
holds the hub participant's keys.

It reads every agency's intelligence topic and acts on REPORT alone; a return is the broker's, and is
skipped without error after its kind is decoded. A REPORT is verified, checked to come from the connector
of the agency whose topic it is on, opened, held to the rules of a referral posted to the API, and handed
to the hub's intake, whose messages (the referral and its enquiries) go into this handler's outbox in the
transaction that records the report and its offset: a referral is opened once, even across restarts.
Anything else about a REPORT is a typed dead letter, and opens nothing.

Its store sits beside the case store, not in it: a rebuild of the case store replays the release topic,
and must not make the front door open every reported referral again.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import ValidationError

from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, log_dead_letter
from jigsaw.bus.loop import ConsumeLoop, outcome_for
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.records import COMMIT, DeadLetter, Outcome, Record, RetryLater
from jigsaw.bus.store import BaseStore, Conn, Tx
from jigsaw.bus.stores import schema_name, store_for
from jigsaw.errors import FatalError, PayloadInvalid, RejectedInput, UnauthorizedSender
from jigsaw.ids import TopicName
from jigsaw.metrics import KernelMetrics
from jigsaw.roster import Roster
from jigsaw.topics import Topics
from jigsaw.wire.categories import REPORT_CATEGORIES
from jigsaw.wire.envelope import ENVELOPE, Envelopes, Opened, Verified
from services.hub import query
from services.hub.api.models import ReferralIn
from services.hub.api.writes import facts_of, subject_in
from services.hub.config import HubSettings
from services.hub.intake import Intake

log = logging.getLogger(__name__)
SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_reports (
    referral_id TEXT PRIMARY KEY, msg_id TEXT NOT NULL, sender TEXT NOT NULL, opened_at REAL NOT NULL
) WITHOUT ROWID;
"""
MakeIntake = Callable[[Producer], Intake]
# How many of the latest reported referrals the API is told of again at start-up, as it remembers its own.
_RECALLED = 10_000
_REFERRER_FIELDS = (
    "name",
    "relationship_to_child",
    "is_professional",
    "organisation",
    "role",
    "phone",
    "email",
    "wishes_anonymity",
)


class _Held:
    """Stands in for the intake's producer: what it would send is kept for the outbox of the transaction
    that records the report, rather than sent before that commits (or twice, after a crash)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> None:
        self.rows.append((topic, value, key, list(headers)))


class ReportIntake:
    """The consume loop's handler for the agencies' intelligence topics, on the kernel's store path."""

    def __init__(
        self,
        *,
        envelopes: Envelopes,
        roster: Roster,
        topics: Topics,
        store: BaseStore,
        make_intake: MakeIntake,
        dead_letters: DeadLetterCodec,
        metrics: KernelMetrics,
        known: Callable[[str], bool] = lambda _: False,
        on_opened: Callable[[str], None] = lambda _: None,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._envelopes = envelopes
        self._roster = roster
        self._topics = topics
        self._store = store
        self._make_intake = make_intake
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._known = known  # whether the referral is open already (by the API)
        self._on_opened = on_opened
        self._notify = notify
        self._agency = {topics.intel(a): a for a in roster.agencies}

    @property
    def inputs(self) -> list[str]:
        return sorted(self._agency)

    async def __call__(self, record: Record) -> Outcome:
        try:
            return await self._handle(record)
        except FatalError:
            raise
        except self._store.transient as exc:
            # The store failed, not the report: try it again, never dead-letter it for that.
            return RetryLater(f"the store failed: {type(exc).__name__}")
        except Exception as exc:
            outcome = outcome_for(exc, record)
        if isinstance(outcome, DeadLetter):
            return await self.dead_letter(record, outcome)
        return outcome

    async def dead_letter(self, record: Record, letter: DeadLetter) -> Outcome:
        """The dead letter and the offset after it commit together, so a restart does not repeat it."""
        try:
            with self._store.transaction() as tx:
                tx.source = record.partition  # its owner's to publish, as every row of this partition
                value = self._dead_letters.encode(record, letter.reason, letter.detail)
                tx.enqueue(self._topics.dlq, value, key=self._dead_letters.key(record))
                tx.set_offset(record.topic, record.partition, record.offset + 1)
        except self._store.transient as exc:
            return RetryLater(f"the store failed: {type(exc).__name__}")
        self._metrics.dead_lettered(letter.reason)
        log_dead_letter(log, record, letter.reason)
        self._notify()
        return COMMIT

    async def _handle(self, record: Record) -> Outcome:
        value = record.value or b""
        if self._handled(record):
            return COMMIT
        if self._kind(value) != "REPORT":
            with self._store.transaction() as tx:
                tx.source = record.partition
                tx.set_offset(record.topic, record.partition, record.offset + 1)
            return COMMIT
        # Authority before decrypting anything, and before the duplicate check: a sender that may not
        # send this cannot claim its id either.
        self._authorize(record, self._envelopes.verify(value, record.key))
        opened = self._envelopes.open(value, record.key)
        rid = opened.referral_id
        prior = self._store.conn.execute(
            "SELECT msg_id FROM hub_reports WHERE referral_id = ?", (rid,)
        ).fetchone()
        held = _Held()
        if prior is None:
            if self._known(rid):
                raise PayloadInvalid(f"referral {rid} is open already; a report cannot open it again")
            await self._open(opened, _referral(opened), held)
        elif prior[0] != opened.msg_id:
            raise PayloadInvalid(f"referral {rid} was opened by an earlier report")
        with self._store.transaction() as tx:
            tx.source = record.partition
            fresh = tx.first_seen(opened.msg_id, value, opened.sender) and prior is None
            if fresh:
                self._commit(tx, opened, held)
            tx.set_offset(record.topic, record.partition, record.offset + 1)
        if fresh:
            self._on_opened(rid)
        self._notify()
        return COMMIT

    def _handled(self, record: Record) -> bool:
        """Whether the store is past this record already. A record the consumer fetched on assignment
        before the loop's seek to the stored offset comes again: a valid report would be dropped by its
        msg_id, but a refused one would be dead-lettered twice."""
        row = self._store.conn.execute(
            "SELECT next_offset FROM kernel_offsets WHERE topic = ? AND partition = ?",
            (record.topic, record.partition),
        ).fetchone()
        return row is not None and record.offset < row[0]

    def _kind(self, value: bytes) -> str | None:
        """The envelope's kind, decoded without verifying: a return is not this handler's to judge, and
        what cannot be decoded at all is the broker's to dead-letter."""
        try:
            return str(self._envelopes.registry.decode(value, ENVELOPE)["kind"])
        except RejectedInput:
            return None

    def _authorize(self, record: Record, v: Verified) -> None:
        sender = v.envelope["sender"]
        party = self._roster.participants.get(sender)
        if v.signer.role != "AGENCY_CONNECTOR" or party is None or party.role != "AGENCY_CONNECTOR":
            raise UnauthorizedSender(f"{sender} is not an agency's connector and may not report")
        agency = self._agency.get(TopicName(record.topic))
        if agency is None or v.signer.agency != agency or party.agency != agency:
            raise UnauthorizedSender(f"{sender} may not publish on {record.topic}")
        if v.body["agency"] != agency:
            raise UnauthorizedSender(f"{sender} sent a REPORT in another agency's name")
        if v.envelope["release"] is not None:
            raise UnauthorizedSender("a REPORT comes from its agency, never through the broker")
        foreign = sorted({s["category"] for s in v.sections} - REPORT_CATEGORIES)
        if foreign:
            raise UnauthorizedSender(f"a REPORT may not carry {', '.join(foreign)}")

    async def _open(self, opened: Opened, referral: ReferralIn, held: _Held) -> None:
        # The intake awaits its producer, which here only holds what it is given: cast, since the intake
        # is typed for the real one.
        intake = self._make_intake(cast(Producer, held))
        await intake.open_referral(
            subjects=[subject_in(s) for s in referral.subjects],
            concerns=referral.concerns,
            source_type=referral.source_type,
            rag=referral.rag,
            summary=referral.summary,
            referrer=referral.referrer.model_dump() if referral.referrer else None,
            requested_by=opened.sender,
            referral_id=opened.referral_id,
            facts=facts_of(referral),
        )

    def _commit(self, tx: Tx, opened: Opened, held: _Held) -> None:
        tx.execute(
            "INSERT INTO hub_reports VALUES (?, ?, ?, ?)",
            (opened.referral_id, opened.msg_id, opened.sender, time.time()),
        )
        for topic, value, key, headers in held.rows:
            tx.enqueue(topic, value, key=key, headers=headers)
        log.info("a report from %s opened referral %s", opened.sender, opened.referral_id)


def _referral(opened: Opened) -> ReferralIn:
    """The referral the report asks for, held to the API's rules for one. Errors name fields, not values."""
    body = opened.body
    identities = {s.subject_ref: s.payload or {} for s in opened.sections if s.category == "identity"}
    details = [s.payload or {} for s in opened.sections if s.category == "referral_details"]
    referrers = [s.payload or {} for s in opened.sections if s.category == "referrer_identity"]
    roles = {r["subject_ref"]: r["role"] for r in body["subject_refs"]}
    if len(roles) != len(body["subject_refs"]) or set(identities) != set(roles):
        raise PayloadInvalid("a REPORT needs one identity section for each of its subjects, and no other")
    if len(details) != 1 or not details[0].get("concerns"):
        raise PayloadInvalid("a REPORT carries one referral_details section, with its concern")
    if len(referrers) > 1 or (referrers and not referrers[0].get("referrers")):
        raise PayloadInvalid("a REPORT names at most one referrer")
    concern = details[0]["concerns"][0]
    raw = {
        "subjects": [_subject(opened, identities[ref], ref, role) for ref, role in roles.items()],
        "concerns": body["concerns"],
        "source_type": body["source_type"],
        "rag": body["rag"],
        "summary": concern["summary"],
        "referrer": {k: referrers[0]["referrers"][0].get(k) for k in _REFERRER_FIELDS} if referrers else None,
        "referral_id": opened.referral_id,
        **{k: concern.get(k) for k in ("child_voice", "immediate_risk", "parents_aware", "actions_taken")},
    }
    try:
        return ReferralIn.model_validate(raw)
    except ValidationError as exc:
        # Locations and messages only: pydantic's "input" would quote the personal data itself.
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise PayloadInvalid(f"the report does not make a referral: {fields}") from None


def _subject(opened: Opened, identity: dict[str, Any], ref: str, role: str) -> dict[str, Any]:
    """A reported subject as the API takes one: names and details from the identity, identifiers and the
    address from their own sections (or, from a connector still writing Identity v1, from the identity)."""
    name = (identity.get("names") or [{}])[0]
    details = (identity.get("details") or [{}])[0]
    address = (identity.get("addresses") or [{}])[0]
    ids = {i["scheme"]: i["value"] for i in identity.get("identifiers") or []}
    for s in opened.sections:
        if s.subject_ref == ref and s.category.startswith("identifier_"):
            ids.update({i["scheme"]: i["value"] for i in (s.payload or {}).get("identifiers") or []})
        if s.subject_ref == ref and s.category == "address":
            address = ((s.payload or {}).get("addresses") or [{}])[0]
    unborn = bool(details.get("unborn"))
    mother = next((r.get("related_subject_ref") for r in identity.get("relationships") or []
                   if r.get("relationship") == "MOTHER"), None)  # fmt: skip
    return {
        "subject_ref": identity.get("subject_ref"),
        "role": role,
        "given_names": name.get("given_names") or None,
        "family_name": name.get("family_name") or None,
        "dob": details.get("date_of_birth"),
        "postcode": address.get("postcode"),
        "nhs": ids.get("NHS"),
        "upn": ids.get("UPN"),
        "pnc": ids.get("PNC"),
        "local": ids.get("COUNCIL_ID"),
        "unborn": unborn,
        "expected_date_of_delivery": details.get("expected_date_of_delivery") if unborn else None,
        "mother_subject_ref": mother if unborn else None,
    }


def is_front_door(settings: HubSettings, roster: Roster) -> bool:
    """Whether this hub is the MASH front door, as the API judges it (``services.hub.api.create_app``)."""
    subscribers = roster.subscriber_ids
    return settings.subscriber == (
        settings.front_door or (subscribers[0] if subscribers else settings.subscriber)
    )


def store_path(settings: HubSettings) -> Path:
    return settings.state_dir / f"hub-{settings.subscriber}-reports.sqlite"


class HubParts(Protocol):
    """What the hub's lifespan has built that the report loop needs (``services.hub.app._Parts``)."""

    settings: HubSettings
    roster: Roster
    topics: Topics
    dead_letters: DeadLetterCodec
    kernel_metrics: KernelMetrics

    def agencies(self) -> dict[str, str]: ...

    def intake(self, envelopes: Envelopes, producer: Producer) -> Intake: ...


class FrontDesk(Protocol):
    """The API's memory of the referrals opened here (``services.hub.api.deps.HubState``). The case store
    hears of a referral only once the broker releases something of it, which needs an assignment, which
    the API refuses for a referral it has not heard of: so the referrals reports open are told to it."""

    opened: Mapping[str, None]

    def remember(self, referral_id: str) -> None: ...


async def start_reports(
    stack: AsyncExitStack,
    parts: HubParts,
    envelopes: Envelopes | None,
    producer: Producer,
    stop: asyncio.Event,
    desk: FrontDesk,
    db: Conn,
) -> ConsumeLoop | None:
    """The front door's report loop, started on ``stack``; None for any other hub. ``envelopes`` are the
    hub participant's, which reports are sealed to (None when this hub holds no such keys); ``db`` reads
    the case store."""
    settings = parts.settings
    if not is_front_door(settings, parts.roster):
        return None
    if envelopes is None:
        log.warning("the front door has no hub participant keys: agencies' reports are not read")
        return None
    hub_envelopes = envelopes
    # Its own store beside the case store: a SQLite file of its own, or a schema of its own.
    shared = settings.store.model_copy(
        update={"schema_name": f"{schema_name(settings.store, settings.store_owner())}_reports"[:63]}
    )
    store = store_for(shared, store_path(settings), f"{settings.store_owner()}-reports", SCHEMA)
    store.open()
    stack.callback(store.close)
    recent = store.conn.execute(
        "SELECT referral_id FROM hub_reports ORDER BY opened_at DESC LIMIT ?", (_RECALLED,)
    ).fetchall()
    for (rid,) in reversed(recent):
        desk.remember(rid)
    # Its own service label: the outbox gauges are per service, and the case store has an outbox too.
    metrics = copy.copy(parts.kernel_metrics)
    metrics.service = f"{metrics.service}-reports"
    outbox = await stack.enter_async_context(OutboxPublisher(store, producer, metrics))

    def make_intake(held: Producer) -> Intake:
        return parts.intake(hub_envelopes, held)

    handler = ReportIntake(
        envelopes=hub_envelopes,
        roster=parts.roster,
        topics=parts.topics,
        store=store,
        make_intake=make_intake,
        dead_letters=parts.dead_letters,
        metrics=metrics,
        known=lambda rid: rid in desk.opened or query.referral_opened(db, rid),
        on_opened=desk.remember,
        notify=outbox.notify,
    )
    consumer = settings.consumer_settings()
    loop = ConsumeLoop(
        kafka=settings.kafka,
        consumer=consumer.model_copy(update={"group_id": f"{consumer.group_id}.reports"}),
        topics=handler.inputs,
        handler=handler,
        metrics=metrics,
        positions=store.offsets,
        listeners=[store],
        stop=stop,
    )
    await stack.enter_async_context(loop)
    log.info("front door: reading agencies' reports from %d intelligence topics", len(handler.inputs))
    return loop
