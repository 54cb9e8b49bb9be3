"""The case list and the case view read "breached" from one rule, so the list's filter finds exactly the
cases whose view shows a breached enquiry; every filter is bound, and a page is one query."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jigsaw.bus.store import BaseStore, Conn
from services.hub import query
from services.hub import store as hub_store
from services.hub.view import render
from tests.unit.hub.kit import open_store

HOUR = 3_600_000_000
NOW = 1_800_000_000_000_000


def _case(s: BaseStore, rid: str, rag: str, deadline: int, answered: int | None, at: int) -> None:
    with s.transaction() as tx:
        meta = {"source_type": "SCHOOL", "concerns": ["NEGLECT"], "rag": rag, "subject_refs": []}
        hub_store.put_referral(tx, rid, meta, at)
        hub_store.put_section(
            tx, rid, f"m-{rid}", "education", at, "contact", "S1", "RELEASED", {}, None, None
        )
        body = {"enquiry_id": f"E-{rid}", "categories": ["identity"], "purpose": "p", "rag": rag}
        hub_store.put_enquiry(tx, rid, "education", body, at, deadline)
        if answered is not None:
            hub_store.put_answer(tx, f"E-{rid}", f"a-{rid}", answered)
        hub_store.touch_case(tx, rid)


@pytest.fixture
def db(tmp_path: Path, store_backend: str) -> Iterator[Conn]:
    """The cases below, read as the API reads them, from each store in turn."""
    s = open_store(tmp_path / "hub.sqlite")
    _case(s, "R-open-late", "RED", NOW - HOUR, None, NOW - 5 * HOUR)  # unanswered, deadline passed
    _case(s, "R-answered-late", "AMBER", NOW - 3 * HOUR, NOW - HOUR, NOW - 4 * HOUR)
    _case(s, "R-answered-in-time", "AMBER", NOW - HOUR, NOW - 2 * HOUR, NOW - 3 * HOUR)
    _case(s, "R-not-yet-due", "GREEN", NOW + HOUR, None, NOW - 2 * HOUR)
    conn = s.reader()  # as the API reads
    s.close()
    yield conn
    conn.close()


def test_the_list_and_the_view_agree_on_breached(db: Conn) -> None:
    listed = {c.referral_id: c.breached for c in query.cases(db, NOW)}
    assert listed == {
        "R-open-late": True,
        "R-answered-late": True,
        "R-answered-in-time": False,
        "R-not-yet-due": False,
    }
    for rid, late in listed.items():
        view = render(db, rid, NOW)
        assert view is not None
        assert any(e["breached"] for e in view["enquiries"]) == late


def test_filters_narrow_the_page_in_order(db: Conn) -> None:
    assert [c.referral_id for c in query.cases(db, NOW, breached=True)] == ["R-answered-late", "R-open-late"]
    assert [c.referral_id for c in query.cases(db, NOW, breached=False, rag="AMBER")] == [
        "R-answered-in-time"
    ]
    assert [c.referral_id for c in query.cases(db, NOW, updated_since_us=NOW - 2 * HOUR)] == ["R-not-yet-due"]
    assert len(query.cases(db, NOW, limit=2)) == 2
    assert query.cases(db, NOW, rag="x' OR '1'='1") == []
    assert query.cases(db, NOW + 2 * HOUR, breached=False) == [
        c for c in query.cases(db, NOW, breached=False) if c.referral_id == "R-answered-in-time"
    ]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """SQLite's alone: its trace callback counts the statements a page takes."""
    s = open_store(tmp_path / "hub.sqlite")
    _case(s, "R-open-late", "RED", NOW - HOUR, None, NOW - 5 * HOUR)
    s.close()
    conn = sqlite3.connect(tmp_path / "hub.sqlite")
    yield conn
    conn.close()


def test_a_page_is_one_statement(sqlite_db: sqlite3.Connection) -> None:
    db = sqlite_db
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    query.cases(db, NOW, breached=True, limit=500)
    assert len(statements) == 1


def test_current_rag(db: Conn) -> None:
    assert query.current_rag(db, "R-open-late") == "RED"
    assert query.current_rag(db, "R-none") is None
