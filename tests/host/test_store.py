"""ConnectorStore on the embedded SQLite file and on a real PostgreSQL server: schema created and
migrated on start, optimistic versions (409), secrets stored only as ciphertext."""

from __future__ import annotations

import concurrent.futures
import json

import pytest
from sqlalchemy import text

from ai_connector.host.crypto import SecretCipher
from ai_connector.host.errors import ConflictError, NotFoundError, SettingsError
from ai_connector.host.store import SCHEMA_VERSION, ConnectorStore

KEY = "k" * 40
CANARY = "sk-canary-store-5e6f7a8b9c"
CONFIG = {
    "provider": "fake",
    "taskType": "chat_completion",
    "inferenceId": "fake-1",
    "providerConfig": {"url": "https://a.test", "model_id": "m", "temperature": 0.7},
    "taskTypeConfig": {},
}


@pytest.fixture
def store(database_url):
    s = ConnectorStore.open(database_url)
    yield s
    s.close()


def token(cid: str, config=CONFIG) -> str:
    return SecretCipher(KEY).encrypt(
        {"api_key": CANARY}, connector_id=cid, connector_type=".inference", config=config
    )


def add(store: ConnectorStore, cid: str = "c1", name: str = "One", user: str | None = "alice"):
    return store.insert(
        cid, name=name, connector_type_id=".inference", config=CONFIG, secrets=token(cid), user=user
    )


def test_schema_is_created_and_reopening_is_a_no_op(database_url):
    first = ConnectorStore.open(database_url)
    assert first.schema_version() == SCHEMA_VERSION
    add(first)
    first.close()
    again = ConnectorStore.open(database_url)  # migrate() again: nothing lost, nothing duplicated
    assert again.schema_version() == SCHEMA_VERSION
    assert [c.id for c in again.list()] == ["c1"]
    again.close()


def test_a_database_from_a_newer_version_is_refused(database_url):
    s = ConnectorStore.open(database_url)
    with s.engine.begin() as conn:
        conn.execute(text("UPDATE ai_connector_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    s.close()
    with pytest.raises(SettingsError, match="upgrade ai-connector"):
        ConnectorStore.open(database_url)


def test_hosts_starting_together_migrate_once(database_url):
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: ConnectorStore.open(database_url), range(6)))
    assert {s.schema_version() for s in stores} == {SCHEMA_VERSION}
    for s in stores:
        s.close()


def test_insert_get_list_and_the_stored_fields(store):
    created = add(store, "c1", "One")
    assert created.version == 1
    assert created.config == CONFIG
    assert created.created_by == created.updated_by == "alice"
    assert created.created_at == created.updated_at and created.created_at.endswith("Z")
    assert created.last_test is None
    assert created.key_id == SecretCipher(KEY).primary_key_id
    add(store, "c0", "Zero")
    assert [c.id for c in store.list()] == ["c0", "c1"]
    assert store.get("missing") is None
    with pytest.raises(NotFoundError, match=r"Saved object \[action/missing\] not found"):
        store.require("missing")


def test_an_existing_id_is_a_conflict_and_the_first_connector_is_unchanged(store):
    add(store, "c1", "One")
    with pytest.raises(ConflictError, match=r"Saved object \[action/c1\] conflict"):
        add(store, "c1", "Impostor")
    assert store.require("c1").name == "One"


def test_concurrent_creates_with_one_id_exactly_one_wins(store):
    def attempt(i: int) -> str:
        try:
            add(store, "same", f"n{i}")
            return "ok"
        except ConflictError:
            return "409"

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("ok") == 1 and outcomes.count("409") == 19


def test_update_needs_the_version_it_read(store):
    add(store, "c1")
    updated = store.update(
        "c1", expected_version=1, name="Renamed", config=CONFIG, secrets=token("c1"), user="bob"
    )
    assert (updated.version, updated.name, updated.updated_by, updated.created_by) == (
        2,
        "Renamed",
        "bob",
        "alice",
    )
    with pytest.raises(ConflictError):
        store.update("c1", expected_version=1, name="Stale", config=CONFIG, secrets=token("c1"))
    assert store.require("c1").name == "Renamed"
    with pytest.raises(NotFoundError):
        store.update("nope", expected_version=1, name="x", config=CONFIG, secrets=None)


def test_concurrent_updates_from_one_version_exactly_one_wins(store):
    add(store, "c1")

    def attempt(i: int) -> str:
        try:
            store.update("c1", expected_version=1, name=f"n{i}", config=CONFIG, secrets=token("c1"))
            return "ok"
        except ConflictError:
            return "409"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("ok") == 1
    assert store.require("c1").version == 2


def test_delete_then_delete_again_is_404_and_a_stale_delete_is_409(store):
    add(store, "c1")
    add(store, "c2")
    store.update("c2", expected_version=1, name="x", config=CONFIG, secrets=token("c2"))
    with pytest.raises(ConflictError):
        store.delete("c2", expected_version=1)
    store.delete("c1")
    with pytest.raises(NotFoundError):
        store.delete("c1")
    assert [c.id for c in store.list()] == ["c2"]


def test_the_last_test_is_kept_without_a_new_version_and_cleared_by_an_update(store):
    add(store, "c1")
    assert store.record_test("c1", version=1, status="succeeded", message="ok", latency_ms=12.5)
    rec = store.require("c1")
    assert rec.version == 1
    assert rec.last_test == {
        "tested_at": rec.last_test["tested_at"],
        "status": "succeeded",
        "message": "ok",
        "failure": None,
        "latency_ms": 12.5,
    }
    # A result for settings that changed since the test started is dropped.
    store.update("c1", expected_version=1, name="x", config=CONFIG, secrets=token("c1"))
    assert store.require("c1").last_test is None
    assert not store.record_test("c1", version=1, status="failed", message="old")
    assert store.require("c1").last_test is None


def test_replace_secrets_keeps_the_version(store):
    add(store, "c1")
    assert store.replace_secrets("c1", expected_version=1, secrets=token("c1"))
    assert store.require("c1").version == 1
    assert not store.replace_secrets("c1", expected_version=7, secrets=token("c1"))


def test_batches_walk_every_row_in_id_order(store):
    for i in range(7):
        add(store, f"c{i}")
    batches = list(store.batches(3))
    assert [[c.id for c in b] for b in batches] == [["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"]]


def test_raw_rows_hold_ciphertext_secrets_and_plaintext_config(store):
    add(store, "c1")
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT config, secrets FROM connectors WHERE id = 'c1'")).one()
    assert json.loads(row.config) == CONFIG
    assert row.secrets.startswith("aic1.")
    assert CANARY not in row.secrets and KEY not in row.secrets
    assert store.key_ids_in_use() == {SecretCipher(KEY).primary_key_id: 1}


def test_the_embedded_database_file_is_readable_by_its_owner_only(tmp_path):
    import stat

    path = tmp_path / "home" / "connectors.db"
    store = ConnectorStore.open(f"sqlite:///{path}")
    try:
        add(store)
    finally:
        store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
