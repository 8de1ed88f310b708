"""The hook specifications plugins implement. Every name is prefixed `ai_connector_`.

A provider plugin is a module (or object) with `@hookimpl`-decorated functions, found through the
`ai_connector.providers` entry-point group. `pm.check_pending()` runs after loading, so a misspelled
hook name is reported instead of silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ai_connector.types import Provider

PROJECT = "ai_connector"

_hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "AIConnectorSpecs", "hookimpl"]


class AIConnectorSpecs:
    """The hooks of ai-connector."""

    @_hookspec
    def ai_connector_providers(self) -> Iterable[Provider]:
        """Declare the LLM services this plugin provides, as frozen `Provider` objects.

        Return or yield them. Keep this cheap: import no SDK here (load botocore, google-auth and
        friends inside the calls), because every host start runs it. A complete plugin, registered
        in its `pyproject.toml` as
        `[project.entry-points."ai_connector.providers"] echo = "ai_connector_echo"`::

            from ai_connector.plugin import (
                CallContext, ChatChunk, ChatRequest, InferenceEndpoint, Provider, TaskType,
                TestResult, error_for_status, hookimpl, run_test,
            )

            SETTINGS = {
                "type": "object",
                "properties": {
                    "model_id": {"type": "string", "title": "Model ID",
                                 "description": "The model to use."},
                    "url": {"type": "string", "title": "URL", "format": "uri",
                            "default": "https://echo.example.com"},
                },
                "required": ["model_id"],
                "additionalProperties": False,
            }
            AUTH = {
                "type": "object",
                "properties": {"api_key": {"type": "string", "title": "API Key",
                                           "x-sensitive": True, "x-updatable": True}},
                "required": ["api_key"],
                "additionalProperties": False,
            }

            async def chat(endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext):
                url = endpoint.settings["url"] + "/chat"
                headers = {"authorization": f"Bearer {endpoint.secrets['api_key']}"}
                resp = await ctx.request("POST", url, headers=headers,
                                         json={"model": endpoint.settings["model_id"],
                                               "messages": list(request.messages)})
                if resp.status_code >= 400:
                    raise error_for_status(resp.status_code, resp.text, provider="echo",
                                           headers=resp.headers)
                yield ChatChunk(role="assistant", content=resp.json()["text"])
                yield ChatChunk(finish_reason="stop")

            async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
                async def hello() -> None:
                    async for _ in chat(endpoint, ChatRequest(messages=[
                            {"role": "user", "content": "Hello world"}]), ctx):
                        pass
                return await run_test(hello)

            @hookimpl
            def ai_connector_providers():
                yield Provider(id="echo", name="Echo", task_types={TaskType.CHAT_COMPLETION},
                               settings_schema=SETTINGS, auth_schema=AUTH,
                               chat_completion_stream=chat, test=test)
        """
