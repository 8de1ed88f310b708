"""The `openai_compatible` provider: any server speaking OpenAI's chat and embeddings API at a base
URL the user gives (vLLM, Ollama, llama.cpp, LM Studio, a LiteLLM proxy, Groq, Together...).

The key is optional (local servers take none). *Save & test* lists the server's models
(`GET <url>/models`) and says whether the configured model is among them.
"""

from __future__ import annotations

from ai_connector.plugin import Provider, hookimpl, openai_compatible

__all__ = ["PROVIDER", "ai_connector_providers"]

PROVIDER = openai_compatible(
    id="openai_compatible",
    name="OpenAI-compatible server",
    api_key="optional",
    list_models_test=True,
    description="Any server that speaks OpenAI's chat completions and embeddings API at a URL you give.",
    docs_url="https://platform.openai.com/docs/api-reference/chat",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the OpenAI-compatible provider."""
    return [PROVIDER]
