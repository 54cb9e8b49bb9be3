"""Install (if need be), initialise, start, probe and stop a private PostgreSQL cluster on loopback.

It runs Debian's binaries (``/usr/lib/postgresql/<version>/bin``) on a cluster of its own under its home,
never Debian's ``main`` cluster. PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` account and every server command runs through ``runuser``; that account must then be able to
reach the home (every parent directory searchable by it).

``up`` is idempotent, like ``LocalKafka.up``: a server recorded in the data directory that is alive and
answering is left alone; a stale one (killed, its lock file left behind) is started again on the same data,
which PostgreSQL recovers from its write-ahead log. The bootstrap superuser signs in only over the cluster's
own unix socket (peer); everything else, the ``jigsaw`` role included, only over TCP on 127.0.0.1 with
SCRAM-SHA-256. The role's password is kept 0600 beside the cluster and reaches the server only as a SCRAM
verifier, so it is in no statement the server could log.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from devkit.localpg import server
from devkit.localpg.config import LocalPgSettings
from devkit.localpg.errors import PgLocalError
from devkit.localpg.install import INSTALL_HINT, PG_ROOT, find_bindir, install
from devkit.localpg.server import SUPERUSER
from devkit.procs import alive as _alive
from devkit.procs import port_free as _port_free
from devkit.procs import zombie
from jigsaw.files import private_dir, write_private
from jigsaw.serving import free_port

Progress = Callable[[str], None]
ROLE = "jigsaw"
DATABASE = "jigsaw"


@dataclass(frozen=True)
class PgStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    answering: bool = False
    log: str | None = None
    version: str | None = None
    address: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "**********") if secret else text


class LocalPostgres:
    def __init__(self, settings: LocalPgSettings | None = None, progress: Progress = print):
        self.s = settings or LocalPgSettings()
        self.progress = progress
        # Absolute: server commands run from / (the postgres account may not enter the caller's directory).
        self.home = self.s.home.absolute()
        self.data_dir = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "logs" / "postgres.log"
        self.state_file = self.home / "state.json"
        self.credential_file = self.home / f"{ROLE}.pg.json"

    # -- who runs it --------------------------------------------------------------------------
    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    @staticmethod
    def _os_user() -> str:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name

    @staticmethod
    def _owner_ids() -> tuple[int, list[int]]:
        """The ``postgres`` account's uid and groups (it owns the cluster when we run as root)."""
        import pwd

        try:
            pw = pwd.getpwnam(SUPERUSER)
        except KeyError as exc:
            raise PgLocalError(
                f"there is no {SUPERUSER!r} account to own the cluster (PostgreSQL refuses to run as root): "
                f"`{INSTALL_HINT}` creates it"
            ) from exc
        return pw.pw_uid, os.getgrouplist(SUPERUSER, pw.pw_gid)

    def _run(self, argv: Sequence[str], *, timeout: float) -> str:
        """Run a server command as the cluster's owner; its output, or a ``PgLocalError`` with it."""
        cmd = ["runuser", "-u", SUPERUSER, "--", *argv] if self._as_root() else list(argv)
        try:
            result = subprocess.run(  # noqa: S603
                cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd="/"
            )
        except subprocess.TimeoutExpired as exc:
            raise PgLocalError(f"{Path(argv[0]).name} did not finish within {timeout:.0f}s") from exc
        except OSError as exc:
            raise PgLocalError(f"{Path(cmd[0]).name} could not be run: {exc}") from exc
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise PgLocalError(f"{Path(argv[0]).name} failed (exit {result.returncode}):\n{output[-2000:]}")
        return output

    def _give(self, *paths: Path) -> None:
        """Hand ``paths`` to the ``postgres`` account when running as root (the server writes them)."""
        if self._as_root():
            for path in paths:
                shutil.chown(path, SUPERUSER, SUPERUSER)

    # -- binaries -----------------------------------------------------------------------------
    def _wanted_version(self) -> str | None:
        """The data directory's major version (its binaries must run it), else the configured one."""
        cluster = self._version()
        if cluster and self.s.version and cluster != self.s.version:
            raise PgLocalError(
                f"the cluster under {self.home} is PostgreSQL {cluster}, not {self.s.version}: unset "
                "JIGSAW_LOCALPG__VERSION, or delete it with `jigsaw pg down --purge`"
            )
        return cluster or self.s.version

    def bindir(self) -> Path:
        """Debian's binaries for the cluster's (else the configured, else the newest installed) major
        version; installed with apt when missing and running as root."""
        wanted = self._wanted_version()
        found = find_bindir(wanted)
        if found is not None:
            return found
        package = f"postgresql-{wanted}" if wanted else "postgresql"
        if not self._as_root():
            raise PgLocalError(
                f"PostgreSQL's server binaries are not installed (no {PG_ROOT}/{wanted or '<version>'}"
                f"/bin/initdb): as root, run `apt-get install {package}`"
            )
        install(package, self.s.install_timeout_s, self.progress)
        found = find_bindir(wanted)
        if found is None:
            raise PgLocalError(
                f"apt installed {package}, but {PG_ROOT} has no initdb for version {wanted or 'any'}"
            )
        return found

    # -- files --------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, object]:
        try:
            state: dict[str, object] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return state

    def _state_port(self) -> int:
        try:
            return int(str(self._read_state().get("port", 0)))
        except ValueError:
            return 0

    def _port(self) -> int:
        """The configured port, else the recorded one while it is free, else a free one."""
        if self.s.port:
            return self.s.port
        recorded = self._state_port()
        if recorded and _port_free(recorded):
            return recorded
        return free_port()

    def password(self) -> str:
        """The ``jigsaw`` role's password, generated (once) and kept 0600 beside the cluster."""
        try:
            return str(json.loads(self.credential_file.read_text())["password"])
        except (OSError, ValueError, KeyError):
            pass
        password = secrets.token_urlsafe(32)
        body = {"username": ROLE, "password": password, "database": DATABASE}
        write_private(self.credential_file, json.dumps(body).encode())
        # write_private tightens the home to 0700, which would lock the postgres account out of its cluster.
        self._open_home()
        return password

    def _open_home(self) -> None:
        """As root, let the postgres account through the home (0711: it may enter, not list)."""
        if self._as_root() and self.home.is_dir():
            self.home.chmod(0o711)

    def _check_parents(self) -> None:
        """Every parent of the home must be searchable by the postgres account, or it cannot reach it."""
        uid, gids = self._owner_ids()
        for parent in self.home.parents:
            st = parent.stat()
            if st.st_uid == uid:
                bit = stat.S_IXUSR
            elif st.st_gid in gids:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                raise PgLocalError(
                    f"{parent} is not searchable by the {SUPERUSER} account, so it cannot reach {self.home}: "
                    f"`chmod o+x {parent}`, or set JIGSAW_LOCALPG__HOME elsewhere"
                )

    def _prepare_home(self) -> None:
        private_dir(self.home)
        if not self._as_root():
            for d in (self.socket_dir, self.log_file.parent):
                private_dir(d)
            return
        self._check_parents()
        # The credential first: writing it would tighten the home again.
        self.password()
        self._open_home()
        for d in (self.data_dir, self.socket_dir, self.log_file.parent):
            d.mkdir(mode=0o700, exist_ok=True)
            d.chmod(0o700)
            self._give(d)

    # -- initialise ---------------------------------------------------------------------------
    def _initdb(self, bindir: Path) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.progress(f"initialising a private PostgreSQL cluster in {self.data_dir}…")
        initdb = [str(bindir / "initdb"), "-D", str(self.data_dir), *server.INITDB_ARGS]
        self._run(initdb, timeout=self.s.start_timeout_s)

    def _configure(self, port: int) -> None:
        files = server.config_files(self.s, port, self.socket_dir, self._os_user())
        server.include_ours(self.data_dir)
        for name, text in files.items():
            path = self.data_dir / name
            path.write_text(text)
            path.chmod(0o600)
            self._give(path)
        self.state_file.write_text(json.dumps({"port": port, "version": self._version()}))

    def _version(self) -> str | None:
        try:
            return (self.data_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return None

    def _superuser(self, port: int) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
        )

    def _bootstrap(self, port: int) -> None:
        """The ``jigsaw`` role, with the saved password, and its own database: made where missing."""
        password = self.password()
        try:
            with self._superuser(port) as conn:
                # libpq computes the SCRAM verifier here: the password itself never reaches the server.
                verifier = conn.pgconn.encrypt_password(password.encode(), ROLE.encode(), b"scram-sha-256")
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(ROLE), sql.Literal(verifier.decode())
                    )
                )
                if (
                    conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
                    is None
                ):
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(DATABASE), sql.Identifier(ROLE)
                        )
                    )
        except psycopg.Error as exc:
            raise PgLocalError(
                f"bootstrapping the jigsaw role failed: {_redact(str(exc), password)}"
            ) from exc

    # -- status -------------------------------------------------------------------------------
    def _pid(self) -> int | None:
        """The postmaster's pid from its lock file, when that process is alive and serves our data."""
        lock = server.read_lock(self.data_dir)
        if not lock or not lock[0].strip().isdigit():
            return None
        pid = int(lock[0])
        return pid if _alive(pid) and server.serves(pid, self.data_dir) else None

    def probe(self, timeout_s: float = 3.0) -> bool:
        """True when the ``jigsaw`` role signs in over TCP and runs a query."""
        if not self.credential_file.exists():
            return False
        try:
            with psycopg.connect(self.dsn(), connect_timeout=max(int(timeout_s), 1)) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, PgLocalError):
            return False
        return True

    def status(self) -> PgStatus:
        pid = self._pid()
        port = self._state_port() or None
        log, version = str(self.log_file), self._version()
        if pid is None:
            return PgStatus(False, port=port, log=log, version=version)
        port = server.lock_port(server.read_lock(self.data_dir)) or port
        address = f"127.0.0.1:{port}"
        return PgStatus(True, pid, port, self.probe(), log, version, address)

    # -- connection strings -------------------------------------------------------------------
    def _recorded_port(self) -> int:
        port = self._state_port()
        if not port:
            raise PgLocalError(
                f"the local PostgreSQL under {self.home} has never started: run `jigsaw pg up`"
            )
        return port

    def url(self) -> str:
        """``postgresql://jigsaw:…@127.0.0.1:<port>/jigsaw``: it carries the password, so never log it."""
        port = self._recorded_port()
        return f"postgresql://{ROLE}:{quote(self.password(), safe='')}@127.0.0.1:{port}/{DATABASE}"

    def dsn(self) -> str:
        """The same as ``url`` in libpq's key=value form."""
        port = self._recorded_port()
        return make_conninfo(
            host="127.0.0.1", port=port, dbname=DATABASE, user=ROLE, password=self.password()
        )

    # -- up / down ----------------------------------------------------------------------------
    def up(self) -> PgStatus:
        current = self.status()
        if current.running and current.answering:
            self._open_home()  # a home an earlier `up` left 0700 would keep the postgres account out
            self.progress(f"PostgreSQL already running: pid {current.pid} at {current.address}")
            return current
        if current.running and current.pid is not None and current.port is not None:
            # Alive but not answering: still starting or recovering (wait rather than start a twin), or the
            # role's password differs from the saved one (bootstrap sets it again).
            self.progress(f"PostgreSQL pid {current.pid} is running but not answering; waiting for it…")
            self._await(current.pid, current.port, lambda: self._superuser_answers(current.port or 0))
            self._bootstrap(current.port)
            return self._await(current.pid, current.port, self.probe)
        bindir = self.bindir()
        self._prepare_home()
        self._initdb(bindir)
        self._await_orphans()
        port = self._port()
        if not _port_free(port):
            raise PgLocalError(
                f"port {port} on 127.0.0.1 is taken by another process: stop it, or set "
                "JIGSAW_LOCALPG__PORT to a free port (0 picks one)"
            )
        self._configure(port)
        started = time.monotonic()
        self._start(bindir)
        pid = self._pid()
        if pid is None:
            raise PgLocalError(f"pg_ctl started PostgreSQL, but no server runs on {self.data_dir}")
        self._bootstrap(port)
        status = self._await(pid, port, self.probe)
        self.progress(
            f"started PostgreSQL {status.version} pid {status.pid} at {status.address} "
            f"in {time.monotonic() - started:.1f}s; log {self.log_file}"
        )
        return status

    def _start(self, bindir: Path) -> None:
        argv = [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w"]
        try:
            self._run(
                [*argv, "-t", str(int(self.s.start_timeout_s)), "start"], timeout=self.s.start_timeout_s + 5
            )
        except PgLocalError as exc:
            raise PgLocalError(f"{exc}\nthe end of {self.log_file}:\n{self.tail(30)}") from exc

    def _await_orphans(self) -> None:
        """A server that was killed leaves its lock file. PostgreSQL refuses to start while the pid in it
        still exists (a zombie until its new parent reaps it, which some inits do only now and then) or
        while its backends still hold the shared memory; both last a moment, so wait for them."""
        lock = server.read_lock(self.data_dir)
        if not lock or not lock[0].strip().isdigit():
            return
        pid = int(lock[0])
        self.progress(
            f"PostgreSQL pid {pid} was not stopped cleanly: starting it again on the same data "
            "(it recovers from its write-ahead log)"
        )
        deadline = time.monotonic() + self.s.stop_timeout_s
        while (held := zombie(pid) or server.shm_attached(lock) > 0) and time.monotonic() < deadline:
            time.sleep(0.1)  # a poll interval while the old processes go, not a wait for readiness
        if held:
            raise PgLocalError(
                f"the killed PostgreSQL pid {pid} is still unreaped, or its backends still hold its shared "
                f"memory, after {self.s.stop_timeout_s:.0f}s: see `ps -u {SUPERUSER} -o pid,ppid,stat,cmd`, "
                "then `jigsaw pg up`"
            )

    def _superuser_answers(self, port: int) -> bool:
        try:
            with self._superuser(port) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _await(self, pid: int, port: int, ready: Callable[[], bool]) -> PgStatus:
        deadline = time.monotonic() + self.s.start_timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise PgLocalError(
                    f"PostgreSQL exited during start-up; the end of {self.log_file}:\n{self.tail(30)}"
                )
            if ready():
                return self.status()
            time.sleep(0.2)  # a poll interval between probes, not a wait for readiness
        raise PgLocalError(
            f"PostgreSQL did not answer at 127.0.0.1:{port} within {self.s.start_timeout_s:.0f}s; "
            f"see {self.log_file}:\n{self.tail(30)}"
        )

    def down(self) -> bool:
        """Stop the server (a fast shutdown: sessions are ended, committed data is safe). False if none ran.

        SIGINT is PostgreSQL's fast shutdown (what ``pg_ctl stop -m fast`` sends); a server that ignores it
        for ``stop_timeout_s`` gets SIGQUIT, the immediate shutdown, then SIGKILL."""
        pid = self._pid()
        if pid is None:
            self.progress("PostgreSQL is not running")
            return False
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            if sig is not signal.SIGINT:
                self.progress(
                    f"PostgreSQL pid {pid} did not stop within {self.s.stop_timeout_s:.0f}s: {sig.name}"
                )
            os.kill(pid, sig)
            deadline = time.monotonic() + self.s.stop_timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _alive(pid):
                break
        else:
            raise PgLocalError(f"PostgreSQL pid {pid} survived SIGKILL")
        self.progress(f"stopped PostgreSQL pid {pid}")
        return True

    def purge(self) -> None:
        """Stop the server and delete its cluster, logs and credentials."""
        self.down()
        shutil.rmtree(self.home, ignore_errors=True)

    def tail(self, lines: int = 50) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_file})"
        return "\n".join(text.splitlines()[-lines:])


def redact_url(url: str) -> str:
    """``url`` with any password replaced, for error messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1**********@", url)
