"""`jigsaw pg up | down` on a second, private PostgreSQL: idempotent up, the jigsaw role over TCP with its
saved password (and only with it), status before and after down, recovery after the postmaster is killed
by hand, and a password that stays in its 0600 file."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from apps.cli import cli
from devkit.localpg import LocalPgSettings, LocalPostgres
from devkit.procs import alive as _alive


@contextmanager
def _home() -> Iterator[Path]:
    # Not pytest's tmp_path: as root the server runs as the postgres account, which must traverse every
    # parent of the home, and pytest makes /tmp/pytest-of-<user> 0700.
    base = Path(tempfile.mkdtemp(prefix="jigsaw-pg-"))
    base.chmod(0o711)
    try:
        yield base / "pg"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg() -> Iterator[LocalPostgres]:
    """One cluster, up once, shared by the tests that do not stop it."""
    with _home() as home:
        lp = LocalPostgres(LocalPgSettings(home=home, port=0), progress=print)
        lp.up()
        yield lp
        lp.down()


@pytest.fixture
def fresh() -> Iterator[LocalPostgres]:
    """A cluster of the test's own, not yet started."""
    with _home() as home:
        lp = LocalPostgres(LocalPgSettings(home=home, port=0), progress=print)
        yield lp
        lp.down()


def _postmasters(data_dir: Path) -> set[int]:
    """Live postmasters started on ``data_dir`` (its other processes do not carry ``-D``)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"-D" in argv and str(data_dir).encode() in argv:
                pids.add(int(proc.name))
    return {p for p in pids if _alive(p)}


def _gone(pid: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"pid {pid} still alive after {timeout_s}s")
        time.sleep(0.05)


def test_up_is_idempotent(pg: LocalPostgres) -> None:
    first = pg.status()
    second = pg.up()
    assert first.running
    assert first.answering
    assert second.pid == first.pid
    assert second.port == first.port
    assert _postmasters(pg.data_dir) == {first.pid}, "two `up`s give one server"


def test_the_jigsaw_role_signs_in_over_tcp_and_creates_a_schema_and_a_table(pg: LocalPostgres) -> None:
    with psycopg.connect(pg.url()) as conn:
        user, addr = conn.execute("SELECT current_user, host(inet_server_addr())").fetchone() or (None, None)
        assert (user, addr) == ("jigsaw", "127.0.0.1"), "signed in as jigsaw over TCP, not the socket"
        conn.execute("CREATE SCHEMA IF NOT EXISTS trial")
        conn.execute("CREATE TABLE IF NOT EXISTS trial.cases (id int PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO trial.cases VALUES (1, 'one') ON CONFLICT DO NOTHING")
    # A second connection, with the libpq key=value form: the table and its row were committed.
    with psycopg.connect(pg.dsn()) as conn:
        assert conn.execute("SELECT note FROM trial.cases WHERE id = 1").fetchone() == ("one",)


def test_a_wrong_password_is_refused(pg: LocalPostgres) -> None:
    port = pg.status().port
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=port, dbname="jigsaw", user="jigsaw", password="not-it")
    # The bootstrap superuser has no password at all: over TCP it cannot sign in with any.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=port, dbname="postgres", user="postgres", password="postgres")


def test_the_credential_file_is_private_and_the_password_is_neither_logged_nor_shown(
    pg: LocalPostgres,
) -> None:
    password = pg.password()
    assert len(password) >= 32
    assert stat.S_IMODE(pg.credential_file.stat().st_mode) == 0o600
    # The log has seen the role created with its password (the fixture's `up`); add a refused sign-in.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.url().replace(password, password[::-1]))
    log = pg.log_file.read_text()
    assert "password authentication failed" in log
    assert password not in log

    env = {"JIGSAW_LOCALPG__HOME": str(pg.home)}
    runner = CliRunner()
    for argv in (["pg", "status"], ["pg", "status", "--json"], ["pg", "up"], ["pg", "logs", "-n", "500"]):
        result = runner.invoke(cli, argv, env=env)
        assert result.exit_code == 0, result.output
        assert str(pg.status().pid) in result.output, "the command saw the running server"
        assert password not in result.output, f"`jigsaw {' '.join(argv)}` shows the password"
    # The one command meant to print it does: the checks above look at the right string.
    result = runner.invoke(cli, ["pg", "url"], env=env)
    assert result.exit_code == 0
    assert password in result.output


def test_status_reports_running_and_answering_then_not_running_after_down(fresh: LocalPostgres) -> None:
    assert not fresh.status().running
    started = fresh.up()
    status = fresh.status()
    assert status.running
    assert status.answering
    assert status.pid == started.pid
    assert status.pid is not None
    assert status.address == f"127.0.0.1:{status.port}"

    assert fresh.down() is True
    assert not _alive(status.pid)
    after = fresh.status()
    assert not after.running
    assert not after.answering
    assert after.pid is None
    assert not fresh.probe()


def test_down_on_a_stopped_cluster_says_so_and_returns_false(fresh: LocalPostgres) -> None:
    said: list[str] = []
    quiet = LocalPostgres(fresh.s, progress=said.append)
    assert quiet.down() is False, "never started"
    quiet.up()
    assert quiet.down() is True
    said.clear()
    assert quiet.down() is False, "already stopped"
    assert said == ["PostgreSQL is not running"]


def test_a_server_killed_with_sigkill_is_started_again_on_the_same_data(fresh: LocalPostgres) -> None:
    first = fresh.up()
    assert first.pid is not None
    with psycopg.connect(fresh.url()) as conn:
        conn.execute("CREATE TABLE survivors (id int PRIMARY KEY)")
        conn.execute("INSERT INTO survivors SELECT generate_series(1, 100)")

    os.kill(first.pid, signal.SIGKILL)  # no shutdown checkpoint: the restart must replay the WAL
    _gone(first.pid)
    assert not fresh.status().running
    assert (fresh.data_dir / "postmaster.pid").exists(), "a killed server leaves its lock file"

    again = fresh.up()
    assert again.running
    assert again.answering
    assert again.pid != first.pid
    assert again.port == first.port, "the port is kept across restarts"
    assert _postmasters(fresh.data_dir) == {again.pid}
    with psycopg.connect(fresh.url()) as conn:
        assert conn.execute("SELECT count(*), sum(id) FROM survivors").fetchone() == (100, 5050)
    log = fresh.log_file.read_text()
    assert "database system was interrupted" in log, "the restart ran crash recovery"
    assert fresh.password() not in log, "nor did setting the role's password again log it"
