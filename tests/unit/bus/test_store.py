"""The store's contract, on both stores: SQLite (the embedded default) and PostgreSQL (shared by the
instances of a service), each real."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jigsaw.bus.pgstore import PgStore
from jigsaw.bus.store import BaseStore, Store
from jigsaw.errors import Fenced, Replay

SCHEMA = "CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v INTEGER);"
MakeStore = Callable[..., BaseStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Opens a store; every store one test makes shares the same file or schema, as instances would."""
    made: list[BaseStore] = []
    name = f"t_{uuid.uuid4().hex[:12]}"

    def make(schema: str = SCHEMA, owner: str = "a") -> BaseStore:
        store: BaseStore
        if request.param == "sqlite":
            store = Store(tmp_path / "s.sqlite", schema)
        else:
            store = PgStore(request.getfixturevalue("pg_url"), name, schema, owner=owner)
        store.owner = owner
        store.open()
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if request.param == "postgresql":
        PgStore(request.getfixturevalue("pg_url"), name).purge()


@pytest.fixture
def store(make_store: MakeStore) -> BaseStore:
    """A store as the consume loop leaves it: its partitions claimed (a shared store commits nothing else)."""
    s = make_store()
    s.claim([("in", p) for p in range(3)])
    return s


def test_state_offsets_and_outbox_commit_together(store: BaseStore) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO state VALUES ('a', 1)")
        tx.set_offset("in", 0, 5)
        tx.enqueue("out", b"v1", key=b"R-1", headers=[("jigsaw-msg-id", b"m1"), ("x", b"\x00\xff")])

    assert store.offsets() == {("in", 0): 5}
    (row,) = store.outbox_batch(10)
    assert (row.topic, row.key, row.value) == ("out", b"R-1", b"v1")
    assert row.headers == [("jigsaw-msg-id", b"m1"), ("x", b"\x00\xff")]


def test_a_failed_transaction_leaves_nothing_behind(store: BaseStore) -> None:
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
    assert store.conn.execute("SELECT count(*) FROM state", ()).fetchone()[0] == 0


def test_a_savepoint_undoes_only_its_own_writes(store: BaseStore) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT INTO state VALUES ('kept', 1)")
        tx.execute("SAVEPOINT handler")
        tx.execute("INSERT INTO state VALUES ('undone', 2)")
        tx.execute("ROLLBACK TO handler")
        tx.execute("RELEASE handler")
    assert store.conn.execute("SELECT k FROM state", ()).fetchall() == [("kept",)]


def test_insert_or_replace_and_or_ignore_mean_the_same_on_both(store: BaseStore) -> None:
    with store.transaction() as tx:
        tx.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", ("a", 1))
        tx.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", ("a", 2))
        assert tx.execute("INSERT OR IGNORE INTO state VALUES (?, ?)", ("a", 3)).rowcount == 0
        assert tx.execute("INSERT OR IGNORE INTO state (k, v) VALUES (?, ?)", ("b", True)).rowcount == 1
        tx.execute("UPDATE state SET v = max(v, ?) WHERE k = 'b'", (7,))
    assert store.conn.execute("SELECT k, v FROM state ORDER BY k", ()).fetchall() == [("a", 2), ("b", 7)]


def test_first_seen_drops_exact_copies_and_rejects_a_replayed_id(store: BaseStore) -> None:
    with store.transaction() as tx:
        assert tx.first_seen("m-1", b"value")
        assert not tx.first_seen("m-1", b"value"), "an exact copy is a duplicate to drop"
        assert tx.first_seen("m-2", b"value")
        with pytest.raises(Replay):
            tx.first_seen("m-1", b"other value")
        with pytest.raises(Replay):
            tx.first_seen("m-2", b"value", sender="someone else")


def test_outbox_done_deletes_the_acknowledged_rows(store: BaseStore) -> None:
    with store.transaction() as tx:
        for i in range(5):
            tx.enqueue("out", str(i).encode())
    rows = store.outbox_batch(3)
    store.outbox_done([r.seq for r in rows])
    assert [r.value for r in store.outbox_batch(10)] == [b"3", b"4"]
    depth, _ = store.outbox_stats()
    assert depth == 2


def test_state_survives_reopening(make_store: MakeStore) -> None:
    s = make_store("")
    s.claim([("in", 2)])
    with s.transaction() as tx:
        tx.set_offset("in", 2, 9)
    s.close()
    assert make_store("").offsets() == {("in", 2): 9}


def test_outbox_done_deletes_only_the_rows_named_even_with_gaps(store: BaseStore) -> None:
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


# -- instances sharing a store -------------------------------------------------------------------------
def test_a_stale_owner_cannot_commit_after_its_partition_is_claimed(make_store: MakeStore) -> None:
    old, new = make_store(owner="old"), make_store(owner="new")
    assert old.claim([("in", 0), ("in", 1)]) == {("in", 0): 1, ("in", 1): 1}
    with old.transaction() as tx:
        tx.set_offset("in", 0, 3)
    assert new.claim([("in", 0)]) == {("in", 0): 2}

    def zombie_commits() -> None:
        with old.transaction() as tx:
            tx.execute("INSERT INTO state VALUES ('zombie', 1)")
            tx.set_offset("in", 0, 10)

    with pytest.raises(Fenced):
        zombie_commits()
    assert new.offsets()[("in", 0)] == 3, "nothing of the zombie's transaction committed"
    assert new.conn.execute("SELECT count(*) FROM state", ()).fetchone()[0] == 0
    with old.transaction() as tx:
        tx.set_offset("in", 1, 4)  # the partition it still owns commits as before
    with new.transaction() as tx:
        tx.set_offset("in", 0, 4)
    assert new.offsets() == {("in", 0): 4, ("in", 1): 4}


def test_an_instance_that_was_revoked_cannot_commit_for_the_partition(make_store: MakeStore) -> None:
    store = make_store()
    store.claim([("in", 0)])
    store.release([("in", 0)])
    with pytest.raises(Fenced), store.transaction() as tx:
        tx.set_offset("in", 0, 1)
    store.claim([("in", 1)])
    store.release([("in", 1)])
    with pytest.raises(Fenced), store.transaction() as tx:
        tx.fence_partition(1)  # as the audit checkpoint does for a chain's partition


def test_a_claim_waits_for_the_old_owners_open_transaction_and_then_sees_it(make_store: MakeStore) -> None:
    """The race fencing must close: the new owner's claim and its read of the offsets come after the old
    owner's last commit, never between its check and its commit."""
    old, new = make_store(owner="old"), make_store(owner="new")
    old.claim([("in", 0)])
    claimed = threading.Event()
    seen: dict[tuple[str, int], int] = {}

    def take_over() -> None:
        new.claim([("in", 0)])
        seen.update(new.offsets())
        claimed.set()

    with old.transaction() as tx:
        tx.set_offset("in", 0, 7)
        thread = threading.Thread(target=take_over)
        thread.start()
        assert not claimed.wait(0.5), "the claim went ahead of the old owner's open transaction"
    thread.join(10)
    assert claimed.is_set()
    assert seen == {("in", 0): 7}
    with pytest.raises(Fenced), old.transaction() as tx:
        tx.set_offset("in", 0, 8)


def test_each_instance_publishes_only_the_outbox_rows_of_its_partitions(make_store: MakeStore) -> None:
    a, b = make_store(owner="a"), make_store(owner="b")
    a.claim([("in", 0)])
    b.claim([("in", 1)])
    with a.transaction() as tx:
        tx.source = 0
        tx.enqueue("out", b"from-0")
    with b.transaction() as tx:
        tx.source = 1
        tx.enqueue("out", b"from-1")
        tx.source = None
        tx.enqueue("out", b"of-no-partition")
    assert [r.value for r in a.outbox_batch(10)] == [b"from-0", b"of-no-partition"]
    assert [r.value for r in b.outbox_batch(10)] == [b"from-1", b"of-no-partition"]
    a.claim([("in", 1)])  # b's partition moves to a, with what b left unpublished
    assert [r.value for r in a.outbox_batch(10)] == [b"from-0", b"from-1", b"of-no-partition"]
