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
        friends inside the calls), because every host start runs it. For an OpenAI-compatible
        service one call builds the whole provider: `openai_compatible(id="groq", name="Groq",
        base_url="https://api.groq.com/openai/v1")`. A complete plugin of another kind, registered
        in its `pyproject.toml` as
        `[project.entry-points."ai_connector.providers"] echo = "ai_connector_echo"`::

            from ai_connector.plugin import (
                CallContext, ChatChunk, ChatRequest, InferenceEndpoint, Provider, TaskType,
                fields, hookimpl,
            )

            async def chat(endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext):
                answer = await ctx.send_json(
                    "POST", endpoint.settings["url"] + "/chat",
                    headers={"authorization": f"Bearer {endpoint.secrets['api_key']}"},
                    json={"model": endpoint.settings["model_id"], "messages": list(request.messages)},
                )  # an error status raises its typed error, which names "echo" by itself
                yield ChatChunk(role="assistant", content=answer["text"])
                yield ChatChunk(finish_reason="stop")

            @hookimpl
            def ai_connector_providers():
                yield Provider(
                    id="echo", name="Echo", task_types={TaskType.CHAT_COMPLETION},
                    settings_schema=fields.schema(
                        {"model_id": fields.model_id(), "url": fields.url(default="https://echo.example.com")},
                        required=["model_id"],
                    ),
                    auth_schema=fields.schema({"api_key": fields.api_key()}, required=["api_key"]),
                    chat_completion_stream=chat,
                )  # no `test`: Save & test runs `chat` on a one-token "Hello world"
        """
