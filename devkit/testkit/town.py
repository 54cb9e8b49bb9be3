"""The reference connectors' deploy configs pointed at a generated town, and its health API served."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from connectors.sdk.config import ConnectorConfig
from jigsaw.serving import serve_in_thread
from town.health_api import create_app
from town.schema import STORES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "connectors"
AGENCIES = ("police", "health", "education", "socialcare", "probation", "youthjustice", "housing")


def deploy_config(
    agency: str, sources: Path, health_url: str = "http://127.0.0.1:8790", **extra: Any
) -> ConnectorConfig:
    """deploy/connectors/<agency>.yaml, reading ``sources`` instead of .jigsaw/demo/sources (as the demo
    rewrites it), with ``extra`` top-level settings replaced."""
    text = (DEPLOY / f"{agency}.yaml").read_text(encoding="utf-8")
    text = text.replace(".jigsaw/demo/sources/", f"{sources}/").replace("http://127.0.0.1:8790", health_url)
    doc = yaml.safe_load(text)
    doc.update(extra)
    return ConnectorConfig.model_validate(doc)


def source_ids(town: Path, agency: str) -> list[str]:
    with sqlite3.connect(town / "town.sqlite") as conn:
        rows = conn.execute(
            "SELECT source_id FROM agency_records WHERE agency = ? ORDER BY source_id", (agency,)
        )
        return [sid for (sid,) in rows]


@contextmanager
def health_api(town: Path, token: str | None = None) -> Iterator[str]:
    """The simulator over ``town``/health.sqlite on a free port; yields its base URL."""
    with serve_in_thread(create_app(town, token)) as port:
        yield f"http://127.0.0.1:{port}"


def held(town: Path, agency: str) -> dict[str, Counter[str]]:
    """Per person id, how many rows ``agency``'s store holds under each of its data records keys."""
    store = STORES[agency]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for table in store.tables:
        if table.source is None or table.source == "contact":
            continue
        if store.csv:
            with (town / store.path / table.name).open(encoding="utf-8", newline="") as f:
                ids = [row[store.id_column] for row in csv.DictReader(f)]
        else:
            with sqlite3.connect(town / store.path) as conn:
                ids = [sid for (sid,) in conn.execute(f'SELECT {store.id_column} FROM "{table.name}"')]  # noqa: S608
        for sid in ids:
            counts[sid][table.source] += 1
    return counts


def store_rows(town: Path, agency: str, table: str) -> list[dict[str, Any]]:
    """Every row of one table (or CSV export) of ``agency``'s system, as stored."""
    store = STORES[agency]
    if store.csv:
        with (town / store.path / table).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    with sqlite3.connect(town / store.path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(f'SELECT * FROM "{table}"')]  # noqa: S608
