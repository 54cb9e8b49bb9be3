"""``store_backend``: a test module that asks for it runs each test on SQLite and again on PostgreSQL, so
the hub's SQL (written once, in SQLite's dialect) is proven on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.hub import kit


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql":
        kit.PG["url"] = request.getfixturevalue("pg_url")
    try:
        yield request.param
    finally:
        for store in kit.PG["opened"]:
            store.purge()
        kit.PG.update(url=None, opened=[])
