"""`python -m ai_connector.testing <provider id> --port N`: serve a provider's wire-exact fake on
127.0.0.1 so the host can be tried with no real account; prints the connector settings to use."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading

from ai_connector.manager import ENTRY_POINT_GROUP, default_registry
from ai_connector.testing.fakes import DEFAULT_KEY, ProviderFake
from ai_connector.testing.fakeserver import FakeServer


def fake_for(provider_id: str) -> type[ProviderFake]:
    """The `FAKE` of the provider's `<package>.testing` module (its plugin's package)."""
    registry = default_registry()
    registry.get(provider_id)  # UnknownProviderError lists the ids there are
    from importlib import metadata

    plugin = registry.plugin_of(provider_id)
    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == plugin]
    package = eps[0].module if eps else f"ai_connector_{provider_id}"
    try:
        fake = importlib.import_module(f"{package}.testing").FAKE
    except (ImportError, AttributeError):
        raise SystemExit(f"provider {provider_id!r} ships no fake ({package}.testing.FAKE)") from None
    return fake


def main(argv: list[str] | None = None) -> int:
    """Run the fake until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m ai_connector.testing", description=__doc__)
    parser.add_argument("provider", help="the provider id, e.g. openai")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--api-key", default=DEFAULT_KEY, help="the key the fake accepts")
    parser.add_argument("--task-type", default="chat_completion", help="the task type to print settings for")
    args = parser.parse_args(argv)
    fake_cls = fake_for(args.provider)
    server = FakeServer(port=args.port).start()
    fake = fake_cls(server, api_key=args.api_key)
    settings, secrets = fake.connector(args.task_type)
    print(f"{fake_cls.__name__} listening on {fake.url}", file=sys.stderr)
    print(json.dumps({"providerConfig": settings, "providerSecrets": secrets}))
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
