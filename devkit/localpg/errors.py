from __future__ import annotations

from jigsaw.errors import JigsawError


class PgLocalError(JigsawError):
    """The local PostgreSQL could not be installed, started or stopped."""
