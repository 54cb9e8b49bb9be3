"""The PostgreSQL store across a restart of a private PostgreSQL: the batch in hand when the server went
fails as a whole, the next one reconnects and commits, the instance's claims still hold, and a reader
answers its next read on a new session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devkit.localpg import LocalPgSettings, LocalPostgres
from jigsaw.bus.pgstore import PgStore

SCHEMA = "CREATE TABLE IF NOT EXISTS facts (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


def _apply(store: PgStore, key: str, value: int, next_offset: int) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO facts VALUES (?, ?)", (key, value))
        tx.set_offset("in", 0, next_offset)


@pytest.fixture
def pg() -> Iterator[LocalPostgres]:
    # As in test_localpg: the postgres account must traverse every parent of the cluster's home.
    base = Path(tempfile.mkdtemp(prefix="jigsaw-pg-"))
    base.chmod(0o711)
    lp = LocalPostgres(LocalPgSettings(home=base / "pg", port=0), progress=print)
    try:
        lp.up()
        yield lp
    finally:
        lp.down()
        shutil.rmtree(base, ignore_errors=True)


def test_a_restart_fails_the_batch_in_hand_and_the_next_reconnects_with_the_claims_intact(
    pg: LocalPostgres,
) -> None:
    store = PgStore(pg.url(), "broker", SCHEMA, owner="broker@a")
    store.open()
    try:
        (generation,) = store.claim([("in", 0)]).values()
        _apply(store, "a", 1, 10)
        reader = store.reader()
        assert reader.execute("SELECT v FROM facts WHERE k = ?", ("a",)).fetchone() == (1,)

        pg.down()
        pg.up()

        # The API's reader: the read after a restart is answered, on a new session.
        assert reader.execute("SELECT v FROM facts WHERE k = ?", ("a",)).fetchone() == (1,)
        reader.close()

        with pytest.raises(psycopg.OperationalError):
            _apply(store, "b", 2, 11)
        # Retried from the stored offset, as the consume loop does: a new session, the same claim.
        _apply(store, "b", 2, 11)
        assert store.offsets() == {("in", 0): 11}
        assert store.conn.execute("SELECT k, v FROM facts ORDER BY k").fetchall() == [("a", 1), ("b", 2)]
        assert store.claimed() == [("in", 0)]
        row = store.conn.execute("SELECT generation FROM kernel_owners WHERE partition = 0").fetchone()
        assert row == (generation,), "a reconnect is not a new claim"
    finally:
        store.close()
