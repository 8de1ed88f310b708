"""Listing at scale: answered from the row (no decryption), one audit line per request, keyset pages,
and the schema migration that fills the listing columns of rows saved before they existed."""

from __future__ import annotations

import json
from typing import Any

from host_helpers import body
from sqlalchemy import Column, MetaData, Table, create_engine, text
from sqlalchemy.schema import CreateTable

from ai_connector.host.connectors import ConnectorService
from ai_connector.host.crypto import SecretCipher
from ai_connector.host.resolve import Resolver
from ai_connector.host.store import SCHEMA_VERSION, ConnectorStore, connectors_table

KEY = "k" * 40
OTHER = "o" * 40
CONFIG = {"provider": "fake", "taskType": "chat_completion", "inferenceId": "i", "providerConfig": {}}


def _token(cid: str, key: str = KEY) -> str:
    return SecretCipher(key).encrypt(
        {"api_key": "sk-x"}, connector_id=cid, connector_type=".inference", config=CONFIG
    )


def _v1_database(url: str, rows: list[tuple[str, str | None]]) -> None:
    """A store as schema version 1 left it: no listing columns."""
    v1 = Table(
        "connectors",
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in connectors_table.columns
            if c.name not in ("is_missing_secrets", "secrets_key_id")
        ),
    )
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE ai_connector_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
        )
        conn.execute(text("INSERT INTO ai_connector_schema VALUES (1, 1)"))
        conn.execute(CreateTable(v1))
        for cid, secrets in rows:
            conn.execute(
                v1.insert().values(
                    id=cid,
                    name=cid,
                    connector_type_id=".inference",
                    config=json.dumps(CONFIG),
                    secrets=secrets,
                    version=1,
                    created_at="2026-01-01T00:00:00.000Z",
                    updated_at="2026-01-01T00:00:00.000Z",
                )
            )
    engine.dispose()


def test_version_1_rows_get_their_listing_columns(database_url, tmp_path):
    (tmp_path / "db").mkdir(exist_ok=True)
    _v1_database(database_url, [("a", _token("a")), ("b", None), ("c", _token("c", OTHER))])
    store = ConnectorStore.open(database_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 2
        listed = {r.id: (r.is_missing_secrets, r.secrets_key_id) for r in store.listing()}
        assert listed == {
            "a": (False, SecretCipher(KEY).primary_key_id),
            "b": (True, None),
            "c": (False, SecretCipher(OTHER).primary_key_id),
        }
    finally:
        store.close()


def test_writes_keep_the_listing_columns_in_step(database_url):
    store = ConnectorStore.open(database_url)
    try:
        store.insert("a", name="a", connector_type_id=".inference", config=CONFIG, secrets=None)
        assert store.listing()[0].is_missing_secrets is True
        row = store.update("a", expected_version=1, name="a", config=CONFIG, secrets=_token("a", OTHER))
        assert (store.listing()[0].is_missing_secrets, store.listing()[0].secrets_key_id) == (
            False,
            SecretCipher(OTHER).primary_key_id,
        )
        assert store.replace_secrets("a", expected_version=row.version, secrets=_token("a"))
        assert store.listing()[0].secrets_key_id == SecretCipher(KEY).primary_key_id
    finally:
        store.close()


def _audit(service: ConnectorService) -> list[dict[str, Any]]:
    service.audit.flush()
    return [json.loads(line) for line in service.settings.audit_log_path.read_text().splitlines()]


async def test_list_decrypts_nothing_and_writes_one_audit_line(service, fake_server, monkeypatch):
    for i in range(5):
        await service.create(body(fake_server.url, name=f"n{i}"), connector_id=f"c{i}")
    before = len(_audit(service))

    def no_decrypt(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("list() decrypted a secret")

    monkeypatch.setattr(SecretCipher, "decrypt", no_decrypt)
    monkeypatch.setattr(Resolver, "decrypt", no_decrypt)
    listed = await service.list(user="alice")
    assert [c["id"] for c in listed] == [f"c{i}" for i in range(5)]
    assert not any(c["is_missing_secrets"] for c in listed)
    lines = _audit(service)[before:]
    assert [(e["event"]["action"], e["user"]["name"]) for e in lines] == [("connector_find", "alice")]
    assert "connector" not in lines[0]  # the request, not one connector


async def test_a_key_this_host_lacks_reads_as_missing_secrets(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    service.store.insert(
        "c2", name="other key", connector_type_id=".inference", config=CONFIG, secrets=_token("c2", OTHER)
    )
    listed = {c["id"]: c["is_missing_secrets"] for c in await service.list()}
    assert listed == {"c1": False, "c2": True}


async def test_pages_follow_the_ids(service, fake_server):
    for i in range(5):
        await service.create(body(fake_server.url, name=f"n{i}"), connector_id=f"c{i}")
    first = await service.list_page(limit=2)
    second = await service.list_page(after=first[-1]["id"], limit=2)
    rest = await service.list_page(after=second[-1]["id"], limit=2)
    assert [[c["id"] for c in p] for p in (first, second, rest)] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    assert await service.list_page(after="c4") == []
    assert first + second + rest == sorted(await service.list(), key=lambda c: c["id"])
