"""`python -m ai_connector.testing <provider id> --port N`: serve a provider's wire-exact fake on
127.0.0.1 so the host can be tried with no real account; prints the connector settings to use."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from ai_connector.testing.fakes import DEFAULT_KEY, ProviderFake, provider_fake
from ai_connector.testing.fakeserver import FakeServer


def fake_for(provider_id: str) -> type[ProviderFake]:
    """The provider's fake, or exit naming what is missing."""
    try:
        return provider_fake(provider_id)
    except LookupError as exc:
        raise SystemExit(str(exc)) from None


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
