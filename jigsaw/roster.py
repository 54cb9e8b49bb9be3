"""Who is on the bus: the deployment's participants and subscribers, read from one place.

The policy file of a deployment (``deploy/policy/*.yaml``) is where they are named. The broker reads the
whole file as its agreement; everything else (the hub, the demo, the benchmarks, the scenarios'
expectations) needs only this part, so it reads it here rather than copying the list or loading the
broker's policy module. At run time the key directory says which of them hold live keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jigsaw.errors import ConfigError

ParticipantRole = Literal["AGENCY_CONNECTOR", "HUB", "BROKER"]
MessageKind = Literal["REFERRAL", "ENQUIRY", "INTEL", "REPORT", "CONSENT", "ASSIGNMENT", "DECISION"]
HUB_SENDS: tuple[MessageKind, ...] = ("REFERRAL", "ENQUIRY", "CONSENT", "ASSIGNMENT", "DECISION")
# Kafka principals that are not participants: the operator's and the node's own (the super users), and one
# that authenticates but is granted nothing, which the demo's scan reads as.
RESERVED_PRINCIPALS = ("admin", "kafka-node", "outsider")
_PARTICIPANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}(\.[a-z0-9][a-z0-9-]{0,40}){0,3}$")

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Participant(BaseModel):
    """A party that holds keys and sends on the bus: an agency's connector, a hub or the broker."""

    model_config = _STRICT

    role: ParticipantRole
    agency: str | None = None
    description: str = ""
    # The data categories this participant may put in a message's sections: an agency publishes what it
    # holds, a hub what an intake records. Anything else it sends is refused before it is held.
    publishes: tuple[str, ...] = ()
    # A hub that serves one desk rather than the MASH's front door: it may send only what ``sends`` lists
    # (reviews), and only for this subscriber.
    subscriber: str | None = None
    sends: tuple[str, ...] | None = None
    # A competent authority under DPA 2018 Part 3 (police, probation): its disclosures rest on Part 3 as
    # well as on the UK GDPR bases.
    competent_authority: bool = False
    # The category whose fact a plain ``contact`` section from this participant reveals (being known to
    # probation at all is probation's fact), so that its screening answer goes only to desks that may know it.
    reveals: str | None = None

    @property
    def front_door(self) -> bool:
        """The MASH front door's hub: a hub that serves no one desk."""
        return self.role == "HUB" and self.subscriber is None


class Subscriber(BaseModel):
    """A desk or system that receives releases; its role is what the agreement's rules name."""

    model_config = _STRICT

    role: str
    description: str = ""


def default_senders() -> dict[ParticipantRole, tuple[MessageKind, ...]]:
    return {"AGENCY_CONNECTOR": ("INTEL", "REPORT"), "HUB": HUB_SENDS}


class Roster(BaseModel):
    """The participants and subscribers of one deployment, with the lists derived from them."""

    model_config = ConfigDict(frozen=True)

    participants: dict[str, Participant]
    subscribers: dict[str, Subscriber]
    senders: dict[ParticipantRole, tuple[MessageKind, ...]] = Field(default_factory=default_senders)

    @model_validator(mode="after")
    def _ids_fit_kafka_principals(self) -> Roster:
        # An id is a Kafka principal and names its groups: `*` would be every principal, and an id that
        # ends like another's group (`hub.devon.reports`) would share it.
        problems = [
            f"{pid!r} is reserved for one of Kafka's own principals"
            for pid in self.participants
            if pid in RESERVED_PRINCIPALS
        ]
        problems += [
            f"{pid!r} is not lower-case dot-separated words"
            for pid in self.participants
            if not _PARTICIPANT_ID.match(pid)
        ]
        problems += [
            f"{pid!r} would share another participant's consumer groups"
            for pid in self.participants
            if any(pid.startswith(f"{other}.") for other in self.participants if other != pid)
        ]
        if problems:
            raise ValueError("participant ids: " + "; ".join(problems))
        return self

    def may_send(self, sender: str, kind: str) -> bool:
        """The role's kinds, narrowed by the participant's own ``sends`` where it has one."""
        participant = self.participants.get(sender)
        if participant is None or kind not in self.senders.get(participant.role, ()):
            return False
        if kind == "CONSENT" and not participant.front_door:
            # Only the MASH records consent: not an agency, and not a desk's hub, whatever ``senders`` says.
            return False
        return participant.sends is None or kind in participant.sends

    def kinds(self, sender: str) -> tuple[MessageKind, ...]:
        """Every kind ``sender`` may send."""
        participant = self.participants.get(sender)
        role_kinds = self.senders.get(participant.role, ()) if participant else ()
        return tuple(k for k in role_kinds if self.may_send(sender, k))

    def served_subscriber(self, hub: str) -> str:
        """The subscriber whose releases a hub participant reads: its desk's, or for the MASH front door
        (a hub without one), the decision makers' (the first subscriber)."""
        participant = self.participants[hub]
        if participant.role != "HUB":
            raise ConfigError(f"{hub} is not a hub")
        return participant.subscriber or self.subscriber_ids[0]

    def hub_for(self, subscriber: str) -> str:
        """The participant a subscriber's hub signs as: the inverse of :meth:`served_subscriber`."""
        hubs = [pid for pid, p in self.participants.items() if p.role == "HUB"]
        desks = {self.participants[pid].subscriber: pid for pid in hubs if self.participants[pid].subscriber}
        if subscriber in desks:
            return desks[subscriber]
        fronts = [pid for pid in hubs if self.participants[pid].subscriber is None]
        if subscriber not in self.subscribers or not fronts:
            raise ConfigError(f"no hub participant serves subscriber {subscriber!r}")
        return fronts[0]

    @property
    def agencies(self) -> tuple[str, ...]:
        """Every agency type with a connector, sorted (one intelligence topic each)."""
        return tuple(sorted({p.agency for p in self.participants.values() if p.agency}))

    @property
    def subscriber_ids(self) -> tuple[str, ...]:
        """Subscribers in the order the deployment lists them (the first is the decision makers')."""
        return tuple(self.subscribers)

    def connectors(self) -> dict[str, str]:
        """Agency type to the participant id of its connector."""
        return {p.agency: pid for pid, p in self.participants.items() if p.agency}


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; errors name the file and the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the {what} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level of the {what} must be a mapping")
    return raw


def load_roster(path: Path) -> Roster:
    """The roster part of a deployment's policy file."""
    raw = read_yaml_mapping(path, "policy file")
    try:
        return Roster.model_validate(
            {k: raw[k] for k in ("participants", "subscribers", "senders") if k in raw}
        )
    except ValidationError as exc:
        problems = "; ".join(".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
