"""OpenAI's routes in the host's OpenAPI document (`/api/openapi.json`).

`OpenAIRoutes` answers them below FastAPI's routing, so FastAPI does not see them; these pydantic
models describe the request and response bodies as OpenAI's OpenAPI document names them
(CreateChatCompletionRequest, CreateChatCompletionResponse, CreateCompletionRequest/Response,
CreateEmbeddingRequest/Response, Model, ListModelsResponse, ErrorResponse), limited to the fields
the host reads or writes. They document; the route checks bodies itself (translate.py), so that a
refusal is OpenAI's 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

__all__ = ["add_openai_routes", "openapi_paths"]

_REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "openaiBearer"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class OpenAIChatMessage(_Open):
    """A chat message: `system`/`developer`, `user` (text or text parts), `assistant` (text and/or
    `tool_calls`) or `tool` (the result for `tool_call_id`)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class OpenAIStreamOptions(_Open):
    """`include_usage`: a last chunk with `choices: []` and the usage, when known."""

    include_usage: bool | None = None


class OpenAICreateChatCompletionRequest(_Open):
    """OpenAI's chat body. `model` is a connector id or inferenceId. Parameters the connector's provider
    cannot honour (`n` > 1, `logprobs`, `seed`, penalties, JSON `response_format`, non-text parts, and
    `user`/`metadata` for a provider without such fields) are refused with a 400 naming them."""

    model: str = Field(description="A connector id or inferenceId (see GET /models).")
    messages: list[OpenAIChatMessage] = Field(min_length=1)
    stream: bool | None = None
    stream_options: OpenAIStreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None


class OpenAIUsage(BaseModel):
    """Token counts, when the provider reports them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAIChatChoice(BaseModel):
    """The answer's one choice: the assistant message and why it ended."""

    index: int
    message: dict[str, Any]
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter", "function_call"] | None
    logprobs: None = None


class OpenAICreateChatCompletionResponse(BaseModel):
    """`chat.completion`; with `stream: true` the answer is `text/event-stream` of
    `chat.completion.chunk` events ending with `data: [DONE]` (an `error` event on a failure)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[OpenAIChatChoice]
    usage: OpenAIUsage | None = None


class OpenAICreateCompletionRequest(_Open):
    """OpenAI's legacy completions body, for a connector with the `completion` task: one prompt."""

    model: str = Field(description="A connector id or inferenceId with the completion task.")
    prompt: str | list[str] = Field(description="One string (or a one-string array).")
    stream: bool | None = None
    stream_options: OpenAIStreamOptions | None = None


class OpenAICompletionChoice(BaseModel):
    """The completion's text."""

    text: str
    index: int
    logprobs: None = None
    finish_reason: Literal["stop", "length", "content_filter"]


class OpenAICreateCompletionResponse(BaseModel):
    """`text_completion`; with `stream: true`, `text/event-stream` of such objects, then `data: [DONE]`."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[OpenAICompletionChoice]


class OpenAICreateEmbeddingRequest(_Open):
    """OpenAI's embeddings body; `input_type` (the host's, for Kibana's `inputType`) defaults to ingest."""

    model: str = Field(description="A connector id or inferenceId with the text_embedding task.")
    input: str | list[str]
    encoding_format: Literal["float", "base64"] | None = None
    input_type: str | None = Field(default=None, description="`ingest` (default) or `search`.")


class OpenAIEmbedding(BaseModel):
    """One input's vector (a base64 string of little-endian float32 when asked for)."""

    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class OpenAICreateEmbeddingResponse(BaseModel):
    """The vectors, in input order."""

    object: Literal["list"]
    data: list[OpenAIEmbedding]
    model: str
    usage: dict[str, int]


class OpenAIModel(_Open):
    """A connector as OpenAI's `Model`, with its task type, name and inferenceId."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str = Field(description="The connector's provider.")


class OpenAIListModelsResponse(BaseModel):
    """The connectors the caller may run."""

    object: Literal["list"]
    data: list[OpenAIModel]


class OpenAIErrorBody(BaseModel):
    """What went wrong; `param` names the refused parameter."""

    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: OpenAIErrorBody


_MODELS: list[type[BaseModel]] = [
    OpenAICreateChatCompletionRequest,
    OpenAICreateChatCompletionResponse,
    OpenAICreateCompletionRequest,
    OpenAICreateCompletionResponse,
    OpenAICreateEmbeddingRequest,
    OpenAICreateEmbeddingResponse,
    OpenAIModel,
    OpenAIListModelsResponse,
    OpenAIErrorResponse,
]
_ERRORS = {
    "400": "A parameter the connector cannot honour, or a malformed body",
    "401": "No or a wrong host API key",
    "403": "The key's privilege, the license or `enabled_connector_types` forbids it",
    "404": "No connector by that id or inferenceId (`model_not_found`)",
    "429": "The provider's rate limit (with `retry-after` when the provider sent one)",
    "502": "The provider failed or answered something unreadable",
    "503": "The provider is overloaded (with `retry-after` when the provider sent one)",
    "504": "The provider timed out",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(
    summary: str, answer: type[BaseModel], *, body: type[BaseModel] | None = None, stream: str = ""
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(answer)}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string", "description": stream}}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    error = {"application/json": {"schema": _ref(OpenAIErrorResponse)}}
    responses.update({code: {"description": text, "content": error} for code, text in _ERRORS.items()})
    operation: dict[str, Any] = {
        "tags": ["OpenAI-compatible API"],
        "summary": summary,
        "security": [{SECURITY_SCHEME: []}, {"apiKeyAuth": []}],  # `ApiKey <key>` is taken too
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def openapi_paths(prefix: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(paths, component schemas, security schemes) of the OpenAI routes under `prefix`; all empty
    when the routes are off (an empty prefix)."""
    if not prefix:
        return {}, {}, {}
    _, defs = models_json_schema([(m, "validation") for m in _MODELS], ref_template=_REF)
    chunks = "`data: {chat.completion.chunk}` events, then `data: [DONE]`"
    paths: dict[str, Any] = {
        f"{prefix}/chat/completions": {
            "post": _operation(
                "Chat with a connector (OpenAI's chat completions)",
                OpenAICreateChatCompletionResponse,
                body=OpenAICreateChatCompletionRequest,
                stream=chunks,
            )
        },
        f"{prefix}/completions": {
            "post": _operation(
                "Complete a prompt with a completion connector (OpenAI's legacy completions)",
                OpenAICreateCompletionResponse,
                body=OpenAICreateCompletionRequest,
                stream="`data: {text_completion}` events, then `data: [DONE]`",
            )
        },
        f"{prefix}/embeddings": {
            "post": _operation(
                "Embed text with a text_embedding connector",
                OpenAICreateEmbeddingResponse,
                body=OpenAICreateEmbeddingRequest,
            )
        },
        f"{prefix}/models": {
            "get": _operation(
                "The connectors the caller may run, as OpenAI's models", OpenAIListModelsResponse
            )
        },
        f"{prefix}/models/{{model}}": {
            "get": {
                **_operation("One connector by id or inferenceId, as OpenAI's model", OpenAIModel),
                "parameters": [
                    {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
        },
    }
    scheme = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <host API key>`, as OpenAI clients send it.",
        }
    }
    return paths, defs.get("$defs", {}), scheme


def add_openai_routes(schema: dict[str, Any], service: Any) -> None:
    """Add the OpenAI routes, under the `service`'s `openai_api_prefix` (the default `/v1` before the
    service is open), to a FastAPI-generated OpenAPI document, in place."""
    from ai_connector.api.openai.routes import DEFAULT_PREFIX

    prefix = getattr(getattr(service, "settings", None), "openai_api_prefix", DEFAULT_PREFIX)
    paths, schemas, schemes = openapi_paths(prefix)
    schema.setdefault("paths", {}).update(paths)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(schemas)
    components.setdefault("securitySchemes", {}).update(schemes)
