from __future__ import annotations

from pathlib import Path

import pytest

from jigsaw.bus.store import Store
from jigsaw.errors import Replay


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite", "CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v INTEGER);")
    s.open()
    yield s  # type: ignore[misc]
    s.close()


def test_state_offsets_and_outbox_commit_together(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO state VALUES ('a', 1)")
        tx.set_offset("in", 0, 5)
        tx.enqueue("out", b"v1", key=b"R-1", headers=[("jigsaw-msg-id", b"m1"), ("x", b"\x00\xff")])

    assert store.offsets() == {("in", 0): 5}
    (row,) = store.outbox_batch(10)
    assert (row.topic, row.key, row.value) == ("out", b"R-1", b"v1")
    assert row.headers == [("jigsaw-msg-id", b"m1"), ("x", b"\x00\xff")]


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    def crash_mid_record() -> None:
        with store.transaction() as tx:
            tx.execute("INSERT INTO state VALUES ('a', 1)")
            tx.set_offset("in", 0, 5)
            tx.enqueue("out", b"v1")
            raise RuntimeError("crash mid-record")

    with pytest.raises(RuntimeError):
        crash_mid_record()

    assert store.offsets() == {}
    assert store.outbox_batch(10) == []
    assert store.conn.execute("SELECT count(*) FROM state").fetchone()[0] == 0


def test_first_seen_drops_exact_copies_and_rejects_a_replayed_id(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.first_seen("m-1", b"value")
        assert not tx.first_seen("m-1", b"value"), "an exact copy is a duplicate to drop"
        assert tx.first_seen("m-2", b"value")
        with pytest.raises(Replay):
            tx.first_seen("m-1", b"other value")


def test_outbox_done_deletes_the_acknowledged_rows(store: Store) -> None:
    with store.transaction() as tx:
        for i in range(5):
            tx.enqueue("out", str(i).encode())
    rows = store.outbox_batch(3)
    store.outbox_done([r.seq for r in rows])
    assert [r.value for r in store.outbox_batch(10)] == [b"3", b"4"]
    depth, _ = store.outbox_stats()
    assert depth == 2


def test_state_survives_reopening(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    s.open()
    with s.transaction() as tx:
        tx.set_offset("in", 2, 9)
    s.close()
    again = Store(tmp_path / "s.sqlite")
    again.open()
    assert again.offsets() == {("in", 2): 9}
    again.close()


def test_outbox_done_deletes_only_the_rows_named_even_with_gaps(store: Store) -> None:
    with store.transaction() as tx:
        for i in range(6):
            tx.enqueue("out", str(i).encode())
    rows = store.outbox_batch(10)
    assert store.outbox_span() == 6
    store.outbox_done([rows[i].seq for i in (0, 1, 3, 5)])
    assert [r.value for r in store.outbox_batch(10)] == [b"2", b"4"]
    assert store.outbox_span() == 3, "the span bounds the depth from above"
    store.outbox_done([rows[2].seq, rows[4].seq])
    assert store.outbox_span() == 0
