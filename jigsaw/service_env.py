"""A service's settings written as the ``JIGSAW_<SERVICE>__...`` environment variables it reads.

The inverse of :class:`jigsaw.config.ServiceSettings`, for whoever starts a service as a child process
(the demo, the benchmarks): settings are nested with ``__``, as the service reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, SecretStr


def service_env(prefix: str, values: Mapping[str, object]) -> dict[str, str]:
    """``service_env("JIGSAW_HUB__", {"kafka": kafka, "api_port": 0})`` gives ``JIGSAW_HUB__API_PORT=0``,
    ``JIGSAW_HUB__KAFKA__BOOTSTRAP=...``, ``JIGSAW_HUB__KAFKA__TOPIC_PREFIX=...``.

    A mapping or settings model is flattened with ``__``; a model gives only the fields set on it, so the
    child keeps its own defaults for the rest. ``None`` is left out, for the same reason. Secrets are
    written in clear: the child has to read them. Lists are JSON; so must be, already, a value the service
    reads as JSON (``api_tokens``), since a mapping here means nesting.
    """
    out: dict[str, str] = {}
    for key, value in values.items():
        name = prefix + key.upper()
        nested = (
            {f: getattr(value, f) for f in value.model_fields_set} if isinstance(value, BaseModel) else value
        )
        if isinstance(nested, Mapping):
            out.update(service_env(name + "__", nested))
        elif nested is not None:
            out[name] = _text(nested)
    return out


def _text(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(value)
    if isinstance(value, str | int | float | Path):
        return str(value)
    raise TypeError(f"no environment form for a {type(value).__name__}")
