"""A real PostgreSQL on loopback, from Debian's packages, in a private cluster managed by ``jigsaw pg``."""

from devkit.localpg.config import LocalPgSettings
from devkit.localpg.errors import PgLocalError
from devkit.localpg.manager import LocalPostgres, PgStatus, redact_url

__all__ = ["LocalPgSettings", "LocalPostgres", "PgLocalError", "PgStatus", "redact_url"]
