"""OpenAI's API on the host: every saved connector usable by every OpenAI client.

`OpenAIRoutes` (an ASGI layer `create_app` adds) answers `/v1/chat/completions`, `/v1/completions`,
`/v1/embeddings` and `/v1/models` (the prefix is the `openai_api_prefix` setting). The modules
behind it: `translate` (OpenAI bodies to unified sub-action params), `render` (answers to OpenAI's
objects), `errors` (OpenAI's error body and status codes), `routes` (the layer itself), `schema`
(the routes in the host's OpenAPI document).
"""

from ai_connector.api.openai.routes import DEFAULT_PREFIX, OpenAIRoutes

__all__ = ["DEFAULT_PREFIX", "OpenAIRoutes"]
