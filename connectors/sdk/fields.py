"""Field types for source record models, for the shapes agency systems really store.

SQL and CSV sources keep lists as JSON text (``'["curfew", "no contact"]'``), CSV exports write a missing
value as an empty cell, booleans as ``true``/``false`` or ``1``/``0``, and a UK school MIS writes dates as
``DD/MM/YYYY``. These types accept those shapes and give the payload its proper type. Their error messages
never quote the value: a record that fails goes to the dead-letter topic, named by field only.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_UK_DATE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")


def blank_to_none(value: Any) -> Any:
    """An empty CSV cell is a missing value, not an empty string."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def uk_or_iso_date(value: Any) -> Any:
    """``DD/MM/YYYY`` (as UK systems export) becomes a date; anything else is left to pydantic (ISO)."""
    if isinstance(value, str) and _UK_DATE.fullmatch(value.strip()):
        try:
            return datetime.strptime(value.strip(), "%d/%m/%Y").date()
        except ValueError:
            raise ValueError("not a valid DD/MM/YYYY date") from None
    return value


def _optional_date(value: Any) -> Any:
    return uk_or_iso_date(blank_to_none(value))


def json_list(value: Any) -> Any:
    """A list, or JSON text holding one; blank or NULL is the empty list."""
    value = blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("not a JSON list") from None
        if not isinstance(value, list):
            raise ValueError("not a JSON list")
    return value


# For an optional enum: ``Annotated[Level | None, Blank]``.
Blank = BeforeValidator(blank_to_none)

Date = Annotated[date, BeforeValidator(uk_or_iso_date)]
OptDate = Annotated[date | None, BeforeValidator(_optional_date)]
OptStr = Annotated[str | None, BeforeValidator(blank_to_none)]
OptBool = Annotated[bool | None, BeforeValidator(blank_to_none)]
OptInt = Annotated[int | None, BeforeValidator(blank_to_none)]
OptFloat = Annotated[float | None, BeforeValidator(blank_to_none)]
JsonList = Annotated[list[str], BeforeValidator(json_list)]
