"""Several host processes on one store: two hosts on one PostgreSQL never silently overwrite each
other (the second update is a 409), and a host killed (SIGKILL) in the middle of a batch of writes
leaves the SQLite store intact — every committed connector readable and decryptable, no partial row."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_child import URL, secret_for
from host_helpers import KEY, OTHER_KEY, FakePlugin, body
from sqlalchemy import text

from ai_connector.host.crypto import SecretCipher, cipher_for
from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings
from ai_connector.host.store import ConnectorStore
from ai_connector.manager import load_registry

CHILD = Path(__file__).with_name("host_child.py")


class Child:
    """A host subprocess speaking the line protocol of host_child.py."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=CHILD.parent,
        )

    def read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"host process ended early:\n{self.proc.stderr.read()}")
        return line.strip()

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()

    def finish(self) -> None:
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.proc.stderr.read()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


def registry():
    return load_registry(entry_points=False, plugins=[("fake", FakePlugin())])


async def seed(home: Path, database_url: str, key: str | None, cid: str = "c1") -> ConnectorService:
    settings = HostSettings(
        home=home, database_url=database_url, encryption_key=key, audit_log_path=home / "audit.log"
    )
    service = await ConnectorService.open(settings, registry=registry())
    await service.create(body(URL, name="original"), connector_id=cid)
    return service


async def test_two_hosts_on_one_postgresql_the_second_update_is_a_409(postgres_url, tmp_path):
    service = await seed(tmp_path / "seed", postgres_url, KEY)
    try:
        a = Child("update", str(tmp_path / "host-a"), postgres_url, KEY, "c1")
        b = Child("update", str(tmp_path / "host-b"), postgres_url, KEY, "c1")
        assert a.read() == "ready 1"
        assert b.read() == "ready 1"  # both hosts read version 1
        a.send("go")
        assert a.read() == "ok 2"
        b.send("go")
        assert b.read() == "409 Saved object [action/c1] conflict"
        a.finish()
        b.finish()
        got = await service.get("c1")
        assert got["name"] == f"written by {tmp_path / 'host-a'}"  # host A's write survived
        assert (await service.details("c1"))["version"] == 2
    finally:
        await service.aclose()


async def test_two_hosts_racing_on_one_postgresql_exactly_one_wins(postgres_url, tmp_path):
    service = await seed(tmp_path / "seed", postgres_url, KEY)
    try:
        children = [Child("update", str(tmp_path / f"host-{i}"), postgres_url, KEY, "c1") for i in range(4)]
        assert [c.read() for c in children] == ["ready 1"] * 4
        for c in children:
            c.send("go")
        outcomes = sorted(c.read().split(" ", 1)[0] for c in children)
        for c in children:
            c.finish()
        assert outcomes == ["409", "409", "409", "ok"]
        assert (await service.details("c1"))["version"] == 2
    finally:
        await service.aclose()


def check_intact(home: Path, db: Path, committed: set[str], updated: set[str]) -> int:
    """Every row complete and decryptable; every committed connector present. Returns the row count."""
    settings = HostSettings.load(env={"AI_CONNECTOR_HOME": str(home)})
    cipher = cipher_for(settings)
    store = ConnectorStore.open(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        rows = store.list()
        ids = {r.id for r in rows}
        assert committed <= ids, sorted(committed - ids)
        for r in rows:
            i = int(r.id[1:])
            assert r.name in (f"connector {i}", f"connector {i} v2")
            assert r.version in (1, 2)
            assert (r.name.endswith("v2")) == (r.version == 2)
            assert r.config["inferenceId"] == f"crash-{i}"
            secrets = cipher.decrypt(
                r.secrets, connector_id=r.id, connector_type=".inference", config=r.config
            )
            assert secrets == {"api_key": secret_for(i)}
        for cid in updated:
            assert store.require(cid).version == 2
        return len(rows)
    finally:
        store.close()


@pytest.mark.parametrize("rounds", [3])
def test_a_host_killed_mid_batch_leaves_the_sqlite_store_intact(tmp_path, rounds):
    home = tmp_path / "home"
    db = home / "connectors.db"
    url = f"sqlite:///{db}"
    committed: set[str] = set()
    updated: set[str] = set()
    start = 0
    rng = random.Random(4)
    for _ in range(rounds):
        child = Child("write", str(home), url, "-", str(start))
        try:
            # Let it get going, then kill it at an arbitrary moment (almost always inside a write).
            while len([c for c in committed if int(c[1:]) >= start]) < 15:
                line = child.read()
                kind, cid = line.split()
                (committed if kind == "committed" else updated).add(cid)
            time.sleep(rng.uniform(0.0, 0.05))
        finally:
            child.kill()
        rows = check_intact(home, db, committed, updated)
        start = rows + 1000  # the next process writes new ids
    assert len(committed) >= 15 * rounds


async def test_a_host_killed_mid_rotation_leaves_every_connector_decryptable(tmp_path):
    home = tmp_path / "home"
    db = home / "connectors.db"
    url = f"sqlite:///{db}"
    settings = HostSettings(
        home=home, database_url=url, encryption_key=KEY, audit_log_path=home / "audit.log"
    )
    service = await ConnectorService.open(settings, registry=registry())
    for i in range(150):
        b = body(URL, name=f"connector {i}", inferenceId=f"crash-{i}")
        b["secrets"]["providerSecrets"]["api_key"] = secret_for(i)
        await service.create(b, connector_id=f"c{i}")
    await service.aclose()
    old_id, new_id = SecretCipher(KEY).primary_key_id, SecretCipher(OTHER_KEY).primary_key_id
    watcher = ConnectorStore.open(url)
    child = Child("rotate", str(home), url, OTHER_KEY, KEY)
    try:
        assert child.read() == "rotating"
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 20:  # kill it part-way through the batch
            assert time.monotonic() < deadline
            time.sleep(0.002)
            seen = watcher.key_ids_in_use().get(new_id, 0)
        assert seen < 150  # the rotation was still running when it was killed
    finally:
        child.kill()
        watcher.close()
    both = SecretCipher(OTHER_KEY, [KEY])
    store = ConnectorStore.open(url)
    try:
        key_ids = store.key_ids_in_use()
        assert sum(key_ids.values()) == 150
        assert set(key_ids) <= {old_id, new_id}, key_ids  # every row whole, under one key or the other
        for r in store.list():
            secrets = both.decrypt(r.secrets, connector_id=r.id, connector_type=".inference", config=r.config)
            assert secrets == {"api_key": secret_for(int(r.id[1:]))}
    finally:
        store.close()
    # Running the rotation again finishes the job.
    again = await ConnectorService.open(
        settings.replace(encryption_key=OTHER_KEY, decryption_only_keys=[KEY]), registry=registry()
    )
    try:
        assert await again.rotate_key() == {"total": 150, "successful": 150, "failed": 0}
        assert again.store.key_ids_in_use() == {SecretCipher(OTHER_KEY).primary_key_id: 150}
    finally:
        await again.aclose()
