"""ConnectorStore: saved connectors in SQL (SQLite file by default, PostgreSQL to share between hosts).

One row per connector. `config` is stored as canonical JSON text (not a JSON column) because it is
bound into the secrets' AEAD associated data byte for byte; `secrets` holds the ciphertext token
(NULL when a connector has none). Beside it, what a list needs without decrypting (Kibana keeps
`isMissingSecrets` in the saved object's attributes for the same reason): `is_missing_secrets` and
the id of the key the token names (`secrets_key_id`). An integer `version`
makes every change optimistic: UPDATE/DELETE run `WHERE version = :expected`, and zero rows on a
connector that still exists is a ConflictError (409) — two hosts never silently overwrite each other.

Schema management: a one-row version table and a list of forward-only migration functions, run in
one transaction under a lock (PostgreSQL advisory lock; SQLite `BEGIN IMMEDIATE`) when the store
opens, so hosts starting together migrate once. Alembic is not used on purpose: the schema is two
tables, migrations never branch, and Alembic would add a dependency, an env.py and a versions
directory to ship inside the wheel for what is a few dozen lines here. Revisit if the schema grows
past a handful of migrations or needs downgrades.

SQLite runs in WAL mode with a busy timeout, and every write is a single statement in its own
`BEGIN IMMEDIATE` transaction: a killed process leaves each connector either fully written or not
at all. The API is synchronous; the async service calls it in a worker thread.

Storage faults are typed: a write on a full volume (SQLite's SQLITE_FULL, PostgreSQL's disk_full,
ENOSPC/EDQUOT) is a StorageFullError (507), a write on a store that became read-only under a
running host a StorageReadOnlyError (503); reads go on. A data directory that is read-only when
the store opens is a start-up error naming the path (SettingsError): a host that could never save
a connector or a test result is a misconfiguration, not a mode to run in.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateTable

from ai_connector.host.crypto import SecretCipher, canonical_json
from ai_connector.host.errors import (
    ConflictError,
    HostError,
    NotFoundError,
    SettingsError,
    StorageFullError,
    StorageReadOnlyError,
)
from ai_connector.host.sqlite import SQLITE_BUSY_TIMEOUT_MS, configure_sqlite

__all__ = ["SCHEMA_VERSION", "ConnectorStore", "ListedConnector", "StoredConnector"]

log = logging.getLogger("ai_connector.host.store")

SCHEMA_VERSION = 2
_ADVISORY_LOCK = 0x41494331  # "AIC1": serialises migrations of hosts sharing a PostgreSQL database

metadata = MetaData()

schema_table = Table(
    "ai_connector_schema",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

connectors_table = Table(
    "connectors",
    metadata,
    Column("id", String(256), primary_key=True),
    Column("name", Text, nullable=False),
    Column("connector_type_id", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("secrets", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("created_by", Text, nullable=True),
    Column("updated_by", Text, nullable=True),
    Column("last_tested_at", String(40), nullable=True),
    Column("last_test_status", String(16), nullable=True),
    Column("last_test_message", Text, nullable=True),
    Column("last_test_failure", String(40), nullable=True),
    Column("last_test_latency_ms", Float, nullable=True),
    Column("is_missing_secrets", Boolean, nullable=False, server_default=text("false")),
    Column("secrets_key_id", String(64), nullable=True),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoredConnector:
    """One stored row. `secrets` is the ciphertext token (never plaintext) or None."""

    id: str
    name: str
    connector_type_id: str
    config: Mapping[str, Any]
    secrets: str | None
    version: int
    created_at: str
    updated_at: str
    created_by: str | None = None
    updated_by: str | None = None
    last_test: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        return f"StoredConnector(id={self.id!r}, name={self.name!r}, version={self.version})"

    @property
    def key_id(self) -> str | None:
        """The id of the key the secrets were encrypted with."""
        return SecretCipher.key_id_of(self.secrets) if self.secrets else None


@dataclass(frozen=True, slots=True)
class ListedConnector:
    """What a list answers from, without the secrets token: `is_missing_secrets` as stored (no
    secrets saved) and the key id the token names (the reader checks it against its keys)."""

    id: str
    name: str
    config: Mapping[str, Any]
    is_missing_secrets: bool
    secrets_key_id: str | None


_LISTED_COLUMNS = (
    connectors_table.c.id,
    connectors_table.c.name,
    connectors_table.c.config,
    connectors_table.c.is_missing_secrets,
    connectors_table.c.secrets_key_id,
)


def _secrets_columns(secrets: str | None) -> dict[str, Any]:
    """The secrets token and the columns derived from it, written together."""
    return {
        "secrets": secrets,
        "is_missing_secrets": secrets is None,
        "secrets_key_id": SecretCipher.key_id_of(secrets) if secrets else None,
    }


def _row(row: Any) -> StoredConnector:
    last_test = None
    if row.last_tested_at is not None:
        last_test = {
            "tested_at": row.last_tested_at,
            "status": row.last_test_status,
            "message": row.last_test_message,
            "failure": row.last_test_failure,
            "latency_ms": row.last_test_latency_ms,
        }
    return StoredConnector(
        id=row.id,
        name=row.name,
        connector_type_id=row.connector_type_id,
        config=json.loads(row.config),
        secrets=row.secrets,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        updated_by=row.updated_by,
        last_test=last_test,
    )


# ---------------------------------------------------------------------------------------------
# Migrations: (version, function) in order; each runs inside the migration transaction.


def _migrate_v1(conn: Connection) -> None:
    conn.execute(CreateTable(connectors_table, if_not_exists=True))


def _migrate_v2(conn: Connection) -> None:
    """`is_missing_secrets` and `secrets_key_id` beside the token, filled from existing rows."""
    present = {c["name"] for c in inspect(conn).get_columns("connectors")}
    if "is_missing_secrets" not in present:
        conn.execute(
            text("ALTER TABLE connectors ADD COLUMN is_missing_secrets BOOLEAN NOT NULL DEFAULT false")
        )
    if "secrets_key_id" not in present:
        conn.execute(text("ALTER TABLE connectors ADD COLUMN secrets_key_id VARCHAR(64)"))
    table = connectors_table
    conn.execute(update(table).where(table.c.secrets.is_(None)).values(is_missing_secrets=True))
    rows = conn.execute(select(table.c.id, table.c.secrets).where(table.c.secrets.is_not(None))).all()
    for cid, token in rows:
        conn.execute(
            update(table).where(table.c.id == cid).values(secrets_key_id=SecretCipher.key_id_of(token))
        )


MIGRATIONS = ((1, _migrate_v1), (2, _migrate_v2))


class ConnectorStore:
    """Saved connectors in a SQL database; open with `ConnectorStore.open(url)`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> ConnectorStore:
        """Connect (creating a SQLite file's directory, mode 0700) and bring the schema up to date."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                path = Path(database).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # Secrets are encrypted, but names, config and audit-worthy metadata are not: owner only.
                # SQLite gives its -wal and -shm files the database file's permissions.
                try:
                    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
                except OSError as exc:
                    raise SettingsError(
                        f"the connector database {path} cannot be opened for writing ({exc.strerror}): "
                        "the data directory must be writable; point AI_CONNECTOR_HOME (or "
                        "AI_CONNECTOR_DATABASE_URL) at a writable place"
                    ) from None
            in_memory = not database or database == ":memory:"
            if in_memory:  # one shared connection, or each pooled connection sees its own empty database
                engine = create_engine(
                    parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
                )
            else:
                engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            configure_sqlite(engine, in_memory=in_memory)
        elif parsed.get_backend_name() == "postgresql":
            engine = create_engine(parsed, pool_pre_ping=True)
        else:
            raise SettingsError(
                f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
            )
        store = cls(engine)
        if migrate:
            try:
                store.migrate()
            except (StorageReadOnlyError, StorageFullError) as exc:
                engine.dispose()
                state = "read-only" if isinstance(exc, StorageReadOnlyError) else "full"
                raise SettingsError(
                    f"the connector store ({parsed.database or parsed.get_backend_name()}) is {state}, "
                    "so it cannot be opened: the data directory must be writable"
                ) from None
            except Exception:
                engine.dispose()
                raise
        return store

    def close(self) -> None:
        """Release every pooled connection."""
        if not self._closed:
            self._closed = True
            self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection for one write transaction; storage faults leave it typed (507/503)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(ai_connector_write=True)
                yield conn
        except (DBAPIError, OSError) as exc:
            fault = storage_fault(exc, f"the connector store ({self.engine.url.database or self.dialect})")
            if fault is None:
                raise
            raise fault from None

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version now in place."""
        with self._write() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
            conn.execute(CreateTable(schema_table, if_not_exists=True))
            current = conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
            if current is not None and current > SCHEMA_VERSION:
                raise SettingsError(
                    f"the connector database has schema version {current}, newer than this "
                    f"ai-connector understands ({SCHEMA_VERSION}); upgrade ai-connector"
                )
            for version, step in MIGRATIONS:
                if current is None or version > current:
                    step(conn)
                    log.info("connector store migrated to schema version %d", version)
            if current is None:
                conn.execute(insert(schema_table).values(id=1, version=SCHEMA_VERSION))
            elif current < SCHEMA_VERSION:
                conn.execute(
                    update(schema_table).where(schema_table.c.id == 1).values(version=SCHEMA_VERSION)
                )
        return SCHEMA_VERSION

    def schema_version(self) -> int | None:
        """The schema version recorded in the database."""
        with self.engine.connect() as conn:
            return conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()

    # -- reads -----------------------------------------------------------------------------------

    def get(self, connector_id: str) -> StoredConnector | None:
        """The stored connector, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(connectors_table).where(connectors_table.c.id == connector_id)).first()
        return None if row is None else _row(row)

    def require(self, connector_id: str) -> StoredConnector:
        """The stored connector, or NotFoundError (Kibana's text)."""
        found = self.get(connector_id)
        if found is None:
            raise NotFoundError.connector(connector_id)
        return found

    def exists(self, connector_id: str) -> bool:
        """True when a connector with this id is stored."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(connectors_table.c.id).where(connectors_table.c.id == connector_id)
                ).first()
                is not None
            )

    def list_all(self) -> list[StoredConnector]:
        """Every stored connector, ordered by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(connectors_table).order_by(connectors_table.c.id)).all()
        return [_row(r) for r in rows]

    def listing(self, *, after: str | None = None, limit: int | None = None) -> list[ListedConnector]:
        """Stored connectors in id order as a list needs them (no secrets token), from after `after`
        (keyset pagination), at most `limit`."""
        query = select(*_LISTED_COLUMNS).order_by(connectors_table.c.id)
        if after is not None:
            query = query.where(connectors_table.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        loads = json.loads
        return [ListedConnector(r[0], r[1], loads(r[2]), bool(r[3]), r[4]) for r in rows]

    def batches(self, batch_size: int = 1000) -> Iterator[list[StoredConnector]]:
        """Every stored connector in id order, `batch_size` at a time (keyset pagination)."""
        after: str | None = None
        while True:
            query = select(connectors_table).order_by(connectors_table.c.id).limit(batch_size)
            if after is not None:
                query = query.where(connectors_table.c.id > after)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            batch = [_row(r) for r in rows]
            yield batch
            after = batch[-1].id

    def key_ids_in_use(self) -> dict[str, int]:
        """How many connectors' secrets each key id encrypted (`?` for values that are not tokens)."""
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (token,) in conn.execute(
                select(connectors_table.c.secrets).where(connectors_table.c.secrets.is_not(None))
            ):
                kid = SecretCipher.key_id_of(token) or "?"
                counts[kid] = counts.get(kid, 0) + 1
        return counts

    # -- writes ----------------------------------------------------------------------------------

    def insert(
        self,
        connector_id: str,
        *,
        name: str,
        connector_type_id: str,
        config: Mapping[str, Any],
        secrets: str | None,
        user: str | None = None,
    ) -> StoredConnector:
        """Store a new connector at version 1; ConflictError (409) when the id is taken."""
        now = _now()
        values = {
            "id": connector_id,
            "name": name,
            "connector_type_id": connector_type_id,
            "config": canonical_json(dict(config)),
            **_secrets_columns(secrets),
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": user,
            "updated_by": user,
        }
        try:
            with self._write() as conn, conn.begin():
                conn.execute(insert(connectors_table).values(**values))
        except IntegrityError:
            raise ConflictError.connector(connector_id) from None
        return self.require(connector_id)

    def update(
        self,
        connector_id: str,
        *,
        expected_version: int,
        name: str,
        config: Mapping[str, Any],
        secrets: str | None,
        user: str | None = None,
    ) -> StoredConnector:
        """Replace name, config and secrets if the stored version is `expected_version`.

        The last test result is cleared (it was for the old settings). NotFoundError when the
        connector is gone, ConflictError when someone else changed it first.
        """
        with self._write() as conn, conn.begin():
            result = conn.execute(
                update(connectors_table)
                .where(connectors_table.c.id == connector_id)
                .where(connectors_table.c.version == expected_version)
                .values(
                    name=name,
                    config=canonical_json(dict(config)),
                    **_secrets_columns(secrets),
                    version=connectors_table.c.version + 1,
                    updated_at=_now(),
                    updated_by=user,
                    last_tested_at=None,
                    last_test_status=None,
                    last_test_message=None,
                    last_test_failure=None,
                    last_test_latency_ms=None,
                )
            )
            changed = result.rowcount
        if changed != 1:
            self._missing_or_conflict(connector_id)
        return self.require(connector_id)

    def delete(self, connector_id: str, *, expected_version: int | None = None) -> None:
        """Delete the connector (only at `expected_version` when given)."""
        query = delete(connectors_table).where(connectors_table.c.id == connector_id)
        if expected_version is not None:
            query = query.where(connectors_table.c.version == expected_version)
        with self._write() as conn, conn.begin():
            changed = conn.execute(query).rowcount
        if changed != 1:
            self._missing_or_conflict(connector_id)

    def replace_secrets(self, connector_id: str, *, expected_version: int, secrets: str) -> bool:
        """Swap the ciphertext (key rotation) without a new version; False if the row changed meanwhile."""
        with self._write() as conn, conn.begin():
            changed: int = conn.execute(
                update(connectors_table)
                .where(connectors_table.c.id == connector_id)
                .where(connectors_table.c.version == expected_version)
                .values(**_secrets_columns(secrets))
            ).rowcount
        return changed == 1

    def record_test(
        self,
        connector_id: str,
        *,
        version: int,
        status: str,
        message: str,
        failure: str | None = None,
        latency_ms: float | None = None,
        tested_at: str | None = None,
    ) -> bool:
        """Keep the last *Save & test* result with the connector, if it is still at `version`.

        The version does not change (a test is not an edit); a result for settings that changed
        since is dropped (returns False).
        """
        with self._write() as conn, conn.begin():
            changed: int = conn.execute(
                update(connectors_table)
                .where(connectors_table.c.id == connector_id)
                .where(connectors_table.c.version == version)
                .values(
                    last_tested_at=tested_at or _now(),
                    last_test_status=status,
                    last_test_message=message,
                    last_test_failure=failure,
                    last_test_latency_ms=latency_ms,
                )
            ).rowcount
        return changed == 1

    def _missing_or_conflict(self, connector_id: str) -> None:
        if self.exists(connector_id):
            raise ConflictError.connector(connector_id)
        raise NotFoundError.connector(connector_id)

    # Last in the class, so no annotation above means this method: `list[...]` stays the builtin.
    list = list_all  # the name tests and scripts call


_SQLITE_READONLY, _SQLITE_FULL = 8, 13  # primary result codes (sqlite.org/rescode.html)
_PG_DISK_FULL, _PG_READ_ONLY = "53100", "25006"  # SQLSTATEs: disk_full, read_only_sql_transaction


def storage_fault(exc: BaseException, where: str) -> HostError | None:
    """The typed refusal for a full or read-only store behind `exc` (a driver or OS error), else None."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    code = code & 0xFF if isinstance(code, int) else None  # extended codes carry the primary in the low byte
    state = getattr(orig, "sqlstate", None)
    number = getattr(orig, "errno", None)
    if code == _SQLITE_FULL or state == _PG_DISK_FULL or number in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(
            f"no space left for {where}: the change was not made; connectors can still be read and "
            "run. Free space on its volume and try again."
        )
    if code == _SQLITE_READONLY or state == _PG_READ_ONLY or number == errno.EROFS:
        return StorageReadOnlyError(
            f"{where} is read-only: the change was not made; connectors can still be read and run. "
            "Make the data directory writable again and try again."
        )
    return None
