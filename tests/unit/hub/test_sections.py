"""How the hub's store keeps a section across the broker's successive decisions about it."""

from __future__ import annotations

from pathlib import Path

from jigsaw.bus.store import Store
from services.hub import store as hub_store


def _put(store: Store, status: str, rule: str | None, payload: dict[str, str] | None = None) -> None:
    with store.transaction() as tx:
        hub_store.put_section(
            tx,
            "R-1",
            "m-1",
            "police",
            1,
            "police_incidents",
            "S1",
            status,
            payload,
            rule and f"{rule}: why",
            rule,
        )


def _row(store: Store) -> tuple[str, str | None]:
    with store.transaction() as tx:
        status, rule = tx.execute(
            "SELECT status, rule_id FROM sections WHERE source_msg_id = 'm-1'"
        ).fetchone()
    return status, rule


def test_a_later_refusal_replaces_an_earlier_one_and_a_release_is_never_replaced(tmp_path: Path) -> None:
    store = Store(tmp_path / "hub.sqlite", hub_store.SCHEMA)
    store.open()
    _put(store, "WITHHELD", "DEFAULT-DENY")
    _put(store, "WITHHELD", "SYS-CONSENT-REFUSED")
    assert _row(store) == ("WITHHELD", "SYS-CONSENT-REFUSED")
    _put(store, "REVIEW", "SYS-MATCH-REVIEW")
    _put(store, "WITHHELD", "SYS-REVIEW-DECLINED")
    assert _row(store) == ("WITHHELD", "SYS-REVIEW-DECLINED")
    _put(store, "RELEASED", None, {"subject_ref": "S1"})
    _put(store, "WITHHELD", "SYS-CONSENT-REFUSED")
    assert _row(store) == ("RELEASED", None)
    store.close()
