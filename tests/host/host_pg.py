"""A real PostgreSQL server for the store tests.

`AI_CONNECTOR_TEST_POSTGRES_URL` (a server where the user may CREATE DATABASE, e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/postgres`) wins; otherwise a throwaway cluster is
started from Debian's binaries (`/usr/lib/postgresql/*/bin`: initdb + pg_ctl on a temporary
directory, listening on 127.0.0.1 and a private unix socket), as the `postgres` (or `nobody`) user
when the tests run as root, because PostgreSQL refuses to run as root. The session creates one
database (dropped afterwards) and each test gets it empty (`empty_database`): creating and dropping
a database per test cost more than half a second each.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

ENV_URL = "AI_CONNECTOR_TEST_POSTGRES_URL"


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory that has initdb and pg_ctl."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bin_dir = Path(initdb).parent
        if (bin_dir / "pg_ctl").exists():
            try:
                found.append((int(bin_dir.parent.name.split(".")[0]), bin_dir))
            except ValueError:
                continue
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as_user() -> str | None:
    """The unprivileged user to run the cluster as (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


class PgCluster:
    """A throwaway cluster: `start()` returns the admin URL, `stop()` removes everything."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _run_as_user()
        self.base = Path(tempfile.mkdtemp(prefix="ai-connector-pg-"))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.port = _free_port()

    def _cmd(self, *args: str) -> list[str]:
        if self.user is None:
            return list(args)
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", self.user, "--", *args]

    def start(self) -> str:
        self.sock.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.base, self.sock):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            self._cmd(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ),
            check=True,
            capture_output=True,
            cwd=self.base,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.sock} "
            "-c fsync=off -c max_connections=100"
        )
        subprocess.run(
            self._cmd(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.base / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
            cwd=self.base,
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def log_tail(self) -> str:
        try:
            return (self.base / "server.log").read_text()[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(
                self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"),
                capture_output=True,
                timeout=60,
                cwd=self.base,
            )
        shutil.rmtree(self.base, ignore_errors=True)


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server (dropped afterwards); yields its SQLAlchemy URL.

    When the server's user may not create databases, the admin URL's own database is used and
    the store's tables are dropped before and after.
    """
    import psycopg

    name = f"aic_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_psycopg_url(admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        _drop_tables(admin_url)
        try:
            yield admin_url
        finally:
            _drop_tables(admin_url)
        return
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(_psycopg_url(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database(url: str, admin_url: str) -> None:
    """Leave `url`'s database as a new one: no tables, no sessions left from an earlier test.

    Only for a database `fresh_database` created; when it fell back to the admin URL's own
    database, only the store's tables are dropped (as before), never anything else there.
    """
    import psycopg

    if url == admin_url:
        _drop_tables(url)
        return
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _drop_tables(url: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS connectors")
        conn.execute("DROP TABLE IF EXISTS ai_connector_schema")
