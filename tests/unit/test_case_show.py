"""`jigsaw case show`: a subscriber's desk tool on its own hub's SQLite case store. It finds the store from
a flag (or the hub's JIGSAW_HUB__STATE_DIR), says which path it looked at when nothing is there, and prints
the names released to the subscriber, as written, in text and in JSON (UTF-8, not escaped)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from apps.cli import cli
from devkit.testkit.wire import identity
from jigsaw.bus.pgstore import PgStore
from jigsaw.bus.store import BaseStore, Store
from jigsaw.wire.framing import now_micros
from services.hub import store as hub_store

R = "R-" + "c" * 32
NAME = ("Zoë", "Nowak-Łukasik")
ALIAS = ("Zoe", "Nowak")


def _fill(s: BaseStore) -> None:
    """A referral about a child, her mother and an unborn sibling, and the child's identity (a legal name
    and an alias) and her mother's, released by the police."""
    s.open()
    at = now_micros()
    subjects = [
        {"subject_ref": "S1", "role": "CHILD"},
        {"subject_ref": "S2", "role": "PARENT"},
        {"subject_ref": "S3", "role": "SIBLING"},
    ]
    meta = {"source_type": "POLICE", "concerns": ["NEGLECT"], "rag": "AMBER", "subject_refs": subjects}
    child = identity("S1")
    legal = child["names"][0]
    child["names"] = [
        {**legal, "given_names": NAME[0], "family_name": NAME[1]},
        {**legal, "name_type": "ALIAS", "given_names": ALIAS[0], "family_name": ALIAS[1]},
    ]
    with s.transaction() as tx:
        hub_store.put_referral(tx, R, meta, at)
        hub_store.put_referral_info(tx, R, {**meta, "referrer_type": "PROFESSIONAL"})
        hub_store.put_return(tx, R, "m-1", at, False)
        for ref, body in (("S1", child), ("S2", identity("S2"))):
            hub_store.put_section(tx, R, "m-1", "police", at, "identity", ref, "RELEASED", body, None, None)
        hub_store.touch_case(tx, R)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A hub state directory holding csc-mash's SQLite store."""
    path = tmp_path / "state"
    path.mkdir()
    s = Store(path / "hub-csc-mash.sqlite", hub_store.SCHEMA)
    try:
        _fill(s)
    finally:
        s.close()
    return path


def _show(*args: str, env: dict[str, str] | None = None, referral: str = R) -> Result:
    return CliRunner(env=env).invoke(cli, ["case", "show", referral, "--subscriber", "csc-mash", *args])


def test_text_names_each_subject_as_released_to_the_subscriber(state_dir: Path) -> None:
    shown = _show("--state-dir", str(state_dir))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert "  subject S1 (CHILD) Zoë Nowak-Łukasik / Zoe Nowak: no matches" in lines
    assert "  subject S2 (PARENT) Callum Hartley-Price: no matches" in lines
    assert "  subject S3 (SIBLING) no name released: no matches" in lines


def test_json_is_utf8_not_escaped(state_dir: Path) -> None:
    shown = _show("--store", str(state_dir / "hub-csc-mash.sqlite"), "--json")
    assert shown.exit_code == 0, shown.output
    assert "Nowak-Łukasik" in shown.stdout
    assert "\\u0141" not in shown.stdout
    view = json.loads(shown.stdout)
    (names,) = [i["payload"]["names"] for i in view["contributions"]["police"] if i["subject_ref"] == "S1"]
    assert [n["given_names"] for n in names] == ["Zoë", "Zoe"]


def test_the_hubs_state_dir_setting_finds_the_store(state_dir: Path) -> None:
    shown = _show(env={"JIGSAW_HUB__STATE_DIR": str(state_dir)})
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"{R}  RAG AMBER")


@pytest.mark.parametrize("flag", ["--state-dir", "--store"])
def test_nothing_there_names_the_path_it_looked_at(tmp_path: Path, flag: str) -> None:
    where = tmp_path / ("empty" if flag == "--state-dir" else "hub-csc-mash.sqlite")
    where.parent.mkdir(exist_ok=True)
    shown = _show(flag, str(where))
    assert shown.exit_code == 1
    looked = where / "hub-csc-mash.sqlite" if flag == "--state-dir" else where
    assert f"no case store at {looked}" in shown.stderr
    assert "--state-dir" in shown.stderr


def test_an_unknown_referral_says_which_store_was_read(state_dir: Path) -> None:
    shown = _show("--state-dir", str(state_dir), referral="R-unknown")
    assert shown.exit_code == 1
    assert f"csc-mash has no case R-unknown in {state_dir / 'hub-csc-mash.sqlite'}" in shown.stderr


def test_a_hub_on_postgresql_is_read_from_its_shared_store(pg_url: str) -> None:
    schema = f"hub_{uuid.uuid4().hex[:12]}"
    s = PgStore(pg_url, schema, hub_store.SCHEMA)
    try:
        _fill(s)
        env = {"JIGSAW_HUB__STORE__URL": pg_url, "JIGSAW_HUB__STORE__SCHEMA_NAME": schema}
        shown = _show(env=env)
        assert shown.exit_code == 0, shown.output
        assert "  subject S1 (CHILD) Zoë Nowak-Łukasik / Zoe Nowak: no matches" in shown.stdout
        missing = _show(env=env, referral="R-unknown")
        assert missing.exit_code == 1
        assert f"csc-mash has no case R-unknown in postgresql schema {schema}" in missing.stderr
    finally:
        s.purge()
        s.close()


def test_a_schema_no_hub_has_opened_is_an_error_and_is_not_created(pg_url: str) -> None:
    import psycopg

    schema = f"hub_{uuid.uuid4().hex[:12]}"
    env = {"JIGSAW_HUB__STORE__URL": pg_url, "JIGSAW_HUB__STORE__SCHEMA_NAME": schema}
    shown = _show(env=env)
    assert shown.exit_code == 1
    assert f"no store at postgresql schema {schema}" in shown.stderr
    with psycopg.connect(pg_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    assert found is None
