"""Ollama as an ai-connector provider, on the core's OpenAI-compatible kit: an example third-party
plugin. Ollama serves OpenAI's chat completions and embeddings API under `/v1`."""

from __future__ import annotations

from ai_connector.plugin import Provider, hookimpl, openai_compatible

PROVIDER = openai_compatible(
    id="ollama",
    name="Ollama",
    base_url="http://localhost:11434/v1",
    api_key="optional",  # only for a server behind an authenticating proxy
    list_models_test=True,  # Save & test says whether the model is pulled
    description="Local models served by Ollama's OpenAI-compatible API.",
    docs_url="https://github.com/ollama/ollama/blob/main/docs/openai.md",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Ollama provider."""
    return [PROVIDER]
