"""A host process for the multi-process tests, driven over stdin/stdout one line at a time.

python host_child.py update <home> <database_url> <key> <connector id>
    prints `ready <version>` after reading the connector, waits for `go`, then updates it at the
    version it read and prints `ok <version>` or `409 <message>`.
python host_child.py write <home> <database_url> <key|-> <start>
    creates connectors c<start>, c<start+1>, ... forever (each with secret `secret_for(i)`),
    updating the previous one after each create; prints `committed c<i>` / `updated c<i>` after
    each commit. Killed by the test.
python host_child.py rotate <home> <database_url> <new key> <old key>
    prints `rotating`, then rotates every connector to the new key; killed by the test.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from host_helpers import CANARY, FakePlugin, body

from ai_connector.host.errors import ConflictError
from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings
from ai_connector.manager import load_registry

URL = "http://127.0.0.1:9"  # never called: these processes only write


def secret_for(i: int) -> str:
    return f"{CANARY}-{i:06d}"


def settings_for(home: str, database_url: str, key: str | None, old: list[str] | None = None) -> HostSettings:
    return HostSettings(
        home=Path(home),
        database_url=database_url,
        encryption_key=key,
        decryption_only_keys=old or [],
        audit_log_path=Path(home) / "audit.log",
    )


def put_body(i: int, name: str) -> dict:
    b = body(URL, name=name, inferenceId=f"crash-{i}")
    del b["connector_type_id"]
    b["secrets"]["providerSecrets"]["api_key"] = secret_for(i)
    return b


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def update(home: str, url: str, key: str, cid: str) -> None:
    registry = load_registry(entry_points=False, plugins=[("fake", FakePlugin())])
    service = await ConnectorService.open(settings_for(home, url, key), registry=registry)
    try:
        version = (await service.details(cid))["version"]
        say(f"ready {version}")
        line = await asyncio.to_thread(sys.stdin.readline)
        assert line.strip() == "go", line
        b = body(URL, name=f"written by {home}")
        del b["connector_type_id"]
        try:
            await service.update(cid, b, expected_version=version, user=home)
        except ConflictError as exc:
            say(f"409 {exc.message}")
        else:
            say(f"ok {(await service.details(cid))['version']}")
    finally:
        await service.aclose()


async def write(home: str, url: str, key: str | None, start: int) -> None:
    registry = load_registry(entry_points=False, plugins=[("fake", FakePlugin())])
    service = await ConnectorService.open(settings_for(home, url, key), registry=registry)
    i = start
    while True:
        b = put_body(i, f"connector {i}")
        b["connector_type_id"] = ".inference"
        await service.create(b, connector_id=f"c{i}")
        say(f"committed c{i}")
        if i > start:
            await service.update(f"c{i - 1}", put_body(i - 1, f"connector {i - 1} v2"))
            say(f"updated c{i - 1}")
        i += 1


async def rotate(home: str, url: str, new: str, old: str) -> None:
    registry = load_registry(entry_points=False, plugins=[("fake", FakePlugin())])
    service = await ConnectorService.open(settings_for(home, url, new, [old]), registry=registry)
    say("rotating")
    say(f"rotated {await service.rotate_key(batch_size=7)}")
    await service.aclose()


def main() -> None:
    mode, home, url, key, arg = sys.argv[1:6]
    if mode == "update":
        asyncio.run(update(home, url, key, arg))
    elif mode == "write":
        asyncio.run(write(home, url, None if key == "-" else key, int(arg)))
    elif mode == "rotate":
        asyncio.run(rotate(home, url, key, arg))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
