"""The embedded store's SQLite connections: WAL, a busy timeout, durable commits, and explicit
BEGIN / BEGIN IMMEDIATE so writers queue on the busy timeout instead of failing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "configure_sqlite"]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _enable_wal(cur: Any) -> None:
    """Switch the file to WAL (persistent, so only its first opener changes it). Changing the journal
    mode can answer "database is locked" at once, without the busy handler, while another host opens
    the same new file: try again briefly instead of failing the start."""
    import sqlite3
    import time

    for attempt in range(50):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))


def configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    """WAL, a busy timeout, and explicit BEGIN / BEGIN IMMEDIATE (pysqlite's own are unreliable)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's documented recipe)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                _enable_wal(cur)
            cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so they wait (busy timeout) instead of failing when
        # a deferred transaction would have to upgrade its lock.
        immediate = conn.get_execution_options().get("ai_connector_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
