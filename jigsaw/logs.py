"""How every process logs: human-readable text (the default), or one JSON object a line for a log shipper.

A JSON line has the same fields in the same order whatever logged it, so a query or an alert does not break
when a message's wording changes: ``time`` (ISO 8601, UTC), ``level``, ``service``, ``participant``,
``event`` (the message), ``logger``, then ``referral_id`` only when the call passed one
(``extra={"referral_id": ...}``), and ``exc_type`` when it carried an exception. Nothing else a call passes
in ``extra`` is written, and an exception's message and traceback never are: either may quote the input
that caused it, and that input can hold a name or a date of birth.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

Format = Literal["text", "json"]
FORMATS: tuple[Format, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = ("time", "level", "service", "participant", "event", "logger")

# One service a process: the long-running commands name theirs once, before they start.
_bound: dict[str, str | None] = {"service": None, "participant": None}


def bind(service: str, participant: str | None) -> None:
    """Name the service (``broker``, ``hub-<subscriber>``, ``connector-<agency>``) and the participant
    that every JSON line of this process carries from now on."""
    _bound.update(service=service, participant=participant)


class _Json(JsonFormatter):
    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: Any) -> None:
        # Built field by field rather than from the record's attributes, so no ``extra`` leaks into a line.
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["time"] = when.replace("+00:00", "Z")
        log_data["level"] = record.levelname
        log_data["service"] = _bound["service"]
        log_data["participant"] = _bound["participant"]
        log_data["event"] = record.message
        log_data["logger"] = record.name
        referral = record.__dict__.get("referral_id")
        if referral is not None:
            log_data["referral_id"] = str(referral)
        if record.exc_info and record.exc_info[0] is not None:
            log_data["exc_type"] = record.exc_info[0].__name__

    def formatException(self, ei: Any) -> str:
        return ""  # the traceback is never written (see add_fields), so it is not worth rendering

    def formatStack(self, stack_info: Any) -> str:
        return ""


def formatter(fmt: Format) -> logging.Formatter:
    if fmt == "json":
        return _Json()
    return logging.Formatter(TEXT_FORMAT)


def quiet(*loggers: str) -> None:
    """Keep ``loggers`` to warnings and worse."""
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(fmt: Format = "text", level: int | str = logging.INFO, *, stream: TextIO | None = None) -> None:
    """Log at ``level`` to ``stream`` (stderr) in ``fmt``. Like ``logging.basicConfig``, it leaves a root
    logger that has handlers already (a test runner's, an embedding program's) as it is."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs every request's URL at INFO, and a query string can hold a name or a date of birth.
    # kafka-python (the ACL and SCRAM admin calls) narrates every connection at INFO.
    quiet("httpx", "kafka")
