from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from town import Summary, generate
from town.schema import STORES

TODAY = date(2026, 11, 2)
HOUSEHOLDS = 2000


def _has_every_kind_of_person(summary: Summary) -> bool:
    """A fled victim (health's confidential address marker, housing's flagged refuge) and a sex offender
    the police manage alone: rarer than any one records key."""
    with sqlite3.connect(summary.out / "health.sqlite") as conn:
        (marked,) = conn.execute("SELECT count(*) FROM patients WHERE confidential_address = 1").fetchone()
    with sqlite3.connect(summary.out / "housing.sqlite") as conn:
        (flagged,) = conn.execute("SELECT count(*) FROM people WHERE address_confidential = 1").fetchone()
    with sqlite3.connect(summary.out / "police.sqlite") as conn:
        (registered,) = conn.execute("SELECT count(*) FROM markers WHERE marker_code = 'SO'").fetchone()
    return bool(marked and flagged and registered)


@pytest.fixture(scope="session")
def town(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    """A town in which every agency holds rows under every one of its records keys (the first seed that
    gives one, so rare records such as youth court orders are there to validate), with a fled victim and a
    sex offender managed by the police alone."""
    wanted = {(agency, table.source) for agency, store in STORES.items() for table in store.tables}
    path = tmp_path_factory.mktemp("town")
    for seed in range(1, 20):
        summary = generate(path, HOUSEHOLDS, seed, TODAY)
        held = {(agency, key) for agency, keys in summary.records.items() for key, n in keys.items() if n}
        if wanted <= held and _has_every_kind_of_person(summary):
            return summary
    pytest.fail("no seed in 1-19 fills every records key")
