"""Memory: what a call needs is imported when it first needs it. Every built-in provider registered
at once imports no SDK, web framework, store driver or terminal library; a call through the Python
API's runtime imports no web framework and no store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ai_connector.testing.contract import HEAVY_MODULES
from ai_connector.testing.fakeserver import FakeServer

# Only `serve` and the saved-connector service need these.
SERVICE_ONLY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "sqlite3", "cryptography")


def _imported(code: str, watched: tuple[str, ...]) -> list[str]:
    probe = code + f"\nprint(json.dumps(sorted(m for m in {list(watched)!r} if m in sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_built_in_provider_registered_imports_nothing_heavy() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from ai_connector.manager import default_registry
        registry = default_registry()
        assert len(registry) >= 7, len(registry)
        """
    )
    assert _imported(code, HEAVY_MODULES) == []


def test_a_python_api_call_imports_no_web_framework_and_no_store() -> None:
    with FakeServer() as server:
        from ai_connector_openai.testing import OpenAIFake, connector

        OpenAIFake(server).install()
        provider_config, secrets = connector(server.url)
        doc = {
            "name": "lazy",
            "config": {
                "provider": "openai",
                "taskType": "chat_completion",
                "inferenceId": "lazy",
                "providerConfig": provider_config,
            },
            "secrets": {"providerSecrets": secrets},
        }
        params = {"body": {"messages": [{"role": "user", "content": "hi"}]}}
        code = textwrap.dedent(
            f"""
            import asyncio, json, sys
            from ai_connector.manager import default_registry
            from ai_connector.runtime import Runtime, RuntimeSettings
            from ai_connector.validation import validate_connector

            async def main():
                registry = default_registry()
                connector = validate_connector({doc!r}, registry, connector_id="lazy")
                async with Runtime(registry, RuntimeSettings()) as runtime:
                    out = await runtime.execute(connector, "unified_completion", {params!r})
                assert out, out

            asyncio.run(main())
            """
        )
        assert _imported(code, (*SERVICE_ONLY, "rich", "pygments", "click")) == []
        assert server.requests, "the call never reached the fake"
