"""The broker's errors, under the kernel's tree (see ``jigsaw.errors``).

::

    ConfigError
    └── PolicyError             the policy file is invalid; at start-up fatal, on hot reload ignored
    RejectedInput
    └── UnauthorizedSender      a valid, signed message from a participant not allowed to send it
"""

from __future__ import annotations

from jigsaw.errors import ConfigError, DeadLetterReason, RejectedInput


class PolicyError(ConfigError):
    """The information sharing agreement file is invalid."""


class UnauthorizedSender(RejectedInput):
    reason = DeadLetterReason.POLICY_ERROR
