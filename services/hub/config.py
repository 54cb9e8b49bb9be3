from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from jigsaw.config import ConsumerSettings, KeystoreSettings, ServiceSettings, StoreSettings
from jigsaw.topics import Topics
from jigsaw.workhours import WorkingHours

Scope = Literal["read", "intake", "triage", "review", "consent"]
SCOPES: tuple[Scope, ...] = ("read", "intake", "triage", "review", "consent")
# The front door's scopes: what only the decision makers' subscriber may do (see docs/api.md).
FRONT_DOOR_SCOPES: frozenset[Scope] = frozenset({"intake", "triage", "consent"})
HASH_HOWTO = (
    "python -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' TOKEN"
    " (or services.hub.config.token_hash)"
)


def token_hash(token: str) -> str:
    """What the config holds for a bearer token: its SHA-256, hex. A token is random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(BaseModel):
    """A hub system's bearer token, held only as its hash: whose views it reads, what it may do, and the
    person or system recorded as the actor of what it posts (the key it is configured under if unnamed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriber: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the token, lowercase hex")
    scopes: frozenset[Scope] = frozenset({"read"})
    name: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token" in data:
            # Said plainly rather than as "extra field": someone has pasted the secret itself into config.
            raise ValueError(f"a plaintext token is configured; configure its sha256 instead: {HASH_HOWTO}")
        return data


class HubSettings(ServiceSettings):
    """``JIGSAW_HUB__*``, nested with ``__``.

    Tokens are JSON, each held as its SHA-256 (see docs/api.md):
    ``JIGSAW_HUB__API_TOKENS='{"case-system": {"subscriber": "csc-mash", "sha256": "…",
    "scopes": ["read", "intake", "triage"], "name": "CSC case system"}}'``.
    """

    model_config = SettingsConfigDict(
        env_prefix="JIGSAW_HUB__", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    subscriber: str = "csc-mash"
    hub_participant: str = "hub.devon"
    policy: Path = Path("deploy/policy/devon-mash.yaml")
    keys: KeystoreSettings = KeystoreSettings()
    consumer: ConsumerSettings | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: dict[str, ApiToken] = Field(default_factory=dict)
    # The subscriber whose tokens may open, rate, assign and decide; unset, the roster's first subscriber.
    front_door: str | None = None
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    api_max_streams_per_token: int = Field(default=4, ge=1, le=1000)
    # Enquiry deadlines by RAG rating, in working hours of ``working_hours`` (or in clock hours when
    # ``timescales_in`` says so). An unrated contact, or one at immediate risk, gets the shortest.
    timescales_h: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"RED": 4.0, "AMBER": 24.0, "GREEN": 72.0}, min_length=1
    )
    timescales_in: Literal["working_hours", "hours"] = "working_hours"
    # The working day, for the enquiry deadlines and the one-working-day decision clock.
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    partitions: int = Field(default=3, ge=1)
    # Unset: SQLite under state_dir, one instance. A PostgreSQL URL: every instance for this subscriber
    # shares the case store (schema hub_<subscriber> unless named), and live streams span them.
    store: StoreSettings = StoreSettings()

    def consumer_settings(self) -> ConsumerSettings:
        # The hub participant's own group under the topic prefix, as the ACLs grant it.
        return self.consumer or ConsumerSettings(
            group_id=Topics(self.kafka.topic_prefix).group(self.hub_participant)
        )

    def store_path(self) -> Path:
        return self.state_dir / f"hub-{self.subscriber}.sqlite"

    def store_owner(self) -> str:
        """Who the case store is for, which names its PostgreSQL schema by default."""
        return f"hub-{self.subscriber}"

    def person_secret_path(self) -> Path:
        """The front door's person-index secret, in the hub's store directory (never on the bus)."""
        return self.state_dir / f"hub-{self.subscriber}-person-index.key"

    def deadline_clock(self) -> WorkingHours | None:
        return self.working_hours if self.timescales_in == "working_hours" else None
