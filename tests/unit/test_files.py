"""Files holding personal data or keys are 0600 in 0700 directories, however loose the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jigsaw.bus.store import Store
from jigsaw.files import private_dir, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    # A service started from a shell with umask 022 (the usual default) must still write private files.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_store_its_wal_and_its_directory_are_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "state" / "hub.sqlite", "CREATE TABLE IF NOT EXISTS t (x TEXT);")
    store.open()
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO t VALUES ('case data')")
        files = sorted((tmp_path / "state").iterdir())
        assert {p.name for p in files} >= {"hub.sqlite", "hub.sqlite-wal", "hub.sqlite-shm"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert _mode(tmp_path / "state") == 0o700
    finally:
        store.close()


def test_an_existing_loose_store_and_directory_are_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "broker.sqlite").touch(mode=0o644)
    store = Store(state / "broker.sqlite")
    store.open()
    store.close()
    assert (_mode(state), _mode(state / "broker.sqlite")) == (0o700, 0o600)


def test_a_sticky_shared_directory_is_left_shared(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    private_dir(shared)
    write_private(shared / "k.json", b"{}")
    assert (_mode(shared), _mode(shared / "k.json")) == (0o1777, 0o600)


def test_a_keystore_and_its_directory_are_private(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from jigsaw.wire.keys import Keystore, ParticipantKeys

    store = Keystore(tmp_path / "keys", SecretStr("a long test passphrase"), scrypt_n=2**10)
    path = store.save(ParticipantKeys.generate("police.devon", "AGENCY_CONNECTOR", "police"))
    assert (_mode(tmp_path / "keys"), _mode(path)) == (0o700, 0o600)
    assert [p.name for p in (tmp_path / "keys").iterdir()] == [path.name], "no temporary file is left"
