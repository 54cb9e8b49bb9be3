"""Settings models shared by every service and connector.

Library code takes these objects explicitly and never reads the environment; each service has one
``BaseSettings`` subclass (see :class:`ServiceSettings`) that reads ``JIGSAW_<SERVICE>__...`` variables.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jigsaw.credentials import load_credential
from jigsaw.errors import ConfigError
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.ed25519 import VerifyKey
from jigsaw.wire.keys import Keystore, load_ed25519, unb64

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class TlsSettings(BaseModel):
    model_config = _FROZEN

    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: SecretStr | None = None

    def context(self) -> ssl.SSLContext:
        """A client context that verifies the broker's certificate and host name (aiokafka always checks
        the host name, so a broker's certificate must name the address clients dial)."""
        try:
            ctx = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
            if self.certfile:
                password = self.key_password.get_secret_value() if self.key_password else None
                ctx.load_cert_chain(self.certfile, self.keyfile, password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"the Kafka TLS files cannot be loaded ({self.cafile}, {self.certfile}): {exc}"
            ) from exc
        return ctx


class KafkaSettings(BaseModel):
    """How to reach Kafka, and as whom. Secure by default: SCRAM-SHA-512 over TLS.

    ``credentials`` names the participant's credential file (``<keys dir>/<id>.kafka.json``); the inline
    ``sasl_username`` and ``sasl_password`` are for callers that hold the secret elsewhere. For TLS client
    certificates instead of SCRAM, set ``security_protocol: SSL`` and ``tls.certfile``/``tls.keyfile``: the
    certificate's common name is the principal. ``PLAINTEXT`` is for the local ``--insecure`` node only.
    """

    model_config = _FROZEN

    bootstrap: str = "127.0.0.1:9092"
    client_id: str = "jigsaw"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    credentials: Path | None = None
    tls: TlsSettings | None = None
    # Prepended to every topic name, so tests and tenants can share one cluster.
    topic_prefix: str = ""
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    max_message_bytes: int = Field(default=1_048_576, ge=1_024)

    @property
    def max_record_bytes(self) -> int:
        """The largest record value Jigsaw encodes: Kafka counts key, headers and batch overhead too."""
        return self.max_message_bytes - 4096

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def principal(self) -> str | None:
        """Who these settings sign in as, for log lines (never the secret)."""
        if self.uses_sasl:
            return self._sasl()[0]
        if self.security_protocol == "SSL" and self.tls is not None and self.tls.certfile is not None:
            return f"the certificate in {self.tls.certfile}"
        return None

    def _sasl(self) -> tuple[str, str]:
        if self.credentials is not None:
            cred = load_credential(self.credentials)
            return cred.username, cred.password.get_secret_value()
        if self.sasl_username is None or self.sasl_password is None:
            raise ConfigError(
                f"Kafka security_protocol {self.security_protocol} needs a credential: set kafka.credentials "
                "to the participant's <id>.kafka.json (or sasl_username and sasl_password)"
            )
        return self.sasl_username, self.sasl_password.get_secret_value()

    def client_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            kw["ssl_context"] = (self.tls or TlsSettings()).context()
        if self.uses_sasl:
            username, password = self._sasl()
            kw["sasl_mechanism"] = self.sasl_mechanism
            kw["sasl_plain_username"] = username
            kw["sasl_plain_password"] = password
        return kw


class StoreSettings(BaseModel):
    """Where a stateful service keeps its state, offsets and outbox: SQLite under ``state_dir`` (the
    default, one instance), or a PostgreSQL that every instance of the service shares."""

    model_config = _FROZEN

    # ``postgresql://jigsaw@db.example:5432/jigsaw?sslmode=verify-full``. Leave the password out of it:
    # libpq reads ``PGPASSWORD`` (or ``PGPASSFILE``), and ``PGSSLROOTCERT`` etc., from the environment.
    url: SecretStr | None = None
    # The PostgreSQL schema for the service's tables; unset, one named after the participant.
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class MetricsSettings(BaseModel):
    model_config = _FROZEN

    enabled: bool = True
    host: str = "127.0.0.1"
    # 0 picks a free port; the service logs the one it got.
    port: int = Field(default=0, ge=0, le=65535)


class ConsumerSettings(BaseModel):
    model_config = _FROZEN

    group_id: str
    max_poll_records: int = Field(default=500, ge=1)
    # A handler on the store path commits this many records of a partition in one local transaction. The
    # loop holds the event loop for a whole batch, so it also bounds how long the outbox waits to publish.
    batch_records: int = Field(default=20, ge=1)
    # How long in-flight work may run after SIGTERM before it is cut short (and redelivered later).
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    retry_backoff_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(default=30.0, gt=0)
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    # Bounds checked before a handler sees a record (an OVERSIZED dead letter past them). Keys are opaque
    # referral or key-directory ids, and headers carry a msg_id and a kind: anything near these is hostile.
    max_key_bytes: int = Field(default=1024, ge=1)
    max_header_bytes: int = Field(default=8192, ge=0)
    # None: the largest value Jigsaw encodes (``KafkaSettings.max_record_bytes``).
    max_value_bytes: int | None = Field(default=None, ge=1)


class KeystoreSettings(BaseModel):
    """Where a participant's encrypted keystore lives, its passphrase, and the directory's trust anchor."""

    model_config = _FROZEN

    dir: Path = Path(".jigsaw/keys")
    passphrase: SecretStr | None = None
    # The admin root's public key (base64 Ed25519); by default <dir>/root.pub, written by `keys init`.
    root_public: Path | None = None
    # How far ahead of this machine's clock a message's created_at may be before it is refused: senders'
    # clocks drift, but a message from the future could outlive a revocation made before it arrives.
    max_clock_skew_s: float = Field(default=300.0, ge=0, le=3600)

    def keystore(self) -> Keystore:
        if self.passphrase is None:
            raise ConfigError("set the keystore passphrase (JIGSAW_<SERVICE>__KEYS__PASSPHRASE)")
        return Keystore(self.dir, self.passphrase)

    def directory(self, registry: SchemaRegistry) -> KeyDirectory:
        """An empty key directory anchored at this deployment's root, with the configured clock skew."""
        return KeyDirectory(registry, self.root_key(), max_clock_skew_us=int(self.max_clock_skew_s * 1e6))

    def root_key(self) -> VerifyKey:
        path = self.root_public or self.dir / "root.pub"
        try:
            return load_ed25519(unb64(path.read_text().strip()))
        except OSError as exc:
            raise ConfigError(f"no admin root public key at {path}: run `jigsaw keys init`") from exc
        except ValueError as exc:
            raise ConfigError(f"{path} does not hold a base64 Ed25519 public key") from exc


class ServiceSettings(BaseSettings):
    """Base for each service's settings: env prefix ``JIGSAW_<NAME>__``, nested with ``__``."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__", frozen=True, extra="forbid", case_sensitive=False
    )

    kafka: KafkaSettings = KafkaSettings()
    metrics: MetricsSettings = MetricsSettings()
    state_dir: Path = Path(".jigsaw/state")


def masked(settings: BaseModel) -> dict[str, Any]:
    """The settings as a dict for a start-up log line. ``SecretStr`` fields print as ``**********``."""
    return settings.model_dump(mode="json")
