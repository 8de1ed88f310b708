"""Listing at scale: `ConnectorService.list()` and the CLI's `ai-connector list --json` with N saved
connectors (default 10,000), each with encrypted secrets. Medians over several rounds.

    .venv/bin/python benchmarks/listing.py [--connectors 10000] [--rounds 5]

One connector is created through the service (so its stored shape is the real one); the rest are
copies of that row written straight to the store, each with its own ciphertext bound to its id.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ai_connector.host.service import SyncConnectorService
from ai_connector.host.settings import HostSettings

KEY = "listing-benchmark-key-0123456789abcdef"


def populate(home: Path, count: int) -> None:
    """`count` saved connectors in `home`'s store."""
    settings = HostSettings.load({"AI_CONNECTOR_HOME": str(home), "AI_CONNECTOR_ENCRYPTION_KEY": KEY})
    with SyncConnectorService.open(settings) as service:
        service.create(
            {
                "name": "c00000",
                "connector_type_id": ".inference",
                "config": {
                    "provider": "openai",
                    "taskType": "chat_completion",
                    "inferenceId": "bench",
                    "providerConfig": {"url": "http://127.0.0.1:9/v1/chat/completions", "model_id": "m"},
                },
                "secrets": {"providerSecrets": {"api_key": "sk-bench"}},
            },
            connector_id="c00000",
        )
        inner = service.service
        first = inner.store.require("c00000")
        secrets = inner._resolver.decrypt(first)
        for i in range(1, count):
            cid = f"c{i:05d}"
            token = inner.cipher.encrypt(
                secrets, connector_id=cid, connector_type=first.connector_type_id, config=first.config
            )
            inner.store.insert(
                cid, name=cid, connector_type_id=first.connector_type_id, config=first.config, secrets=token
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ai-connector-listing-"))
    try:
        populate(home, args.connectors)
        env = {**os.environ, "AI_CONNECTOR_HOME": str(home), "AI_CONNECTOR_ENCRYPTION_KEY": KEY}
        settings = HostSettings.load(env)
        script = shutil.which("ai-connector", path=str(Path(sys.executable).parent)) or "ai-connector"
        api, cli = [], []
        with SyncConnectorService.open(settings) as service:
            assert len(service.list()) == args.connectors
            for _ in range(args.rounds):
                start = time.perf_counter()
                service.list()
                api.append(time.perf_counter() - start)
        for _ in range(args.rounds):
            start = time.perf_counter()
            subprocess.run([script, "list", "--json"], env=env, check=True, capture_output=True)
            cli.append(time.perf_counter() - start)
        print(f"connectors: {args.connectors}, rounds: {args.rounds}")
        print(f"list():               median {statistics.median(api) * 1000:8.1f} ms")
        print(f"ai-connector list --json: median {statistics.median(cli) * 1000:8.1f} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
