"""Who is on the bus: the deployment's participants and subscribers, read from one place.

The policy file of a deployment (``deploy/policy/*.yaml``) is where they are named. The broker reads the
whole file as its agreement; everything else (the hub, the demo, the benchmarks, the scenarios'
expectations) needs only this part, so it reads it here rather than copying the list or loading the
broker's policy module. At run time the key directory says which of them hold live keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from jigsaw.errors import ConfigError

ParticipantRole = Literal["AGENCY_CONNECTOR", "HUB", "BROKER"]

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


class Subscriber(BaseModel):
    """A desk or system that receives releases; its role is what the agreement's rules name."""

    model_config = _STRICT

    role: str
    description: str = ""


class Roster(BaseModel):
    """The participants and subscribers of one deployment, with the lists derived from them."""

    model_config = ConfigDict(frozen=True)

    participants: dict[str, Participant]
    subscribers: dict[str, Subscriber]

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
            {"participants": raw.get("participants"), "subscribers": raw.get("subscribers")}
        )
    except ValidationError as exc:
        problems = "; ".join(".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
