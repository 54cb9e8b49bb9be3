"""The broker's errors, under the kernel's tree (see ``jigsaw.errors``).

::

    ConfigError
    └── PolicyError             the policy file is invalid; at start-up fatal, on hot reload ignored
The broker's senders are checked with ``jigsaw.errors.UnauthorizedSender``.
"""

from __future__ import annotations

from jigsaw.errors import ConfigError


class PolicyError(ConfigError):
    """The information sharing agreement file is invalid."""
