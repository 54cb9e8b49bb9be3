from __future__ import annotations

from datetime import date

import pytest

from town import Summary, generate
from town.schema import STORES

TODAY = date(2026, 11, 2)
HOUSEHOLDS = 1200


@pytest.fixture(scope="session")
def town(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    """A town in which every agency holds rows under every one of its records keys (the first seed that
    gives one, so rare records such as youth court orders are there to validate)."""
    wanted = {(agency, table.source) for agency, store in STORES.items() for table in store.tables}
    path = tmp_path_factory.mktemp("town")
    for seed in range(1, 20):
        summary = generate(path, HOUSEHOLDS, seed, TODAY)
        held = {(agency, key) for agency, keys in summary.records.items() for key, n in keys.items() if n}
        if wanted <= held:
            return summary
    pytest.fail("no seed in 1-19 fills every records key")
