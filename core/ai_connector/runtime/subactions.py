"""Kibana's sub-actions of the `.inference` connector: their names, parameters and answer shapes.

Each sub-action's params are validated against `schemas/subactions/<name>.json` (the same error
quality as connector validation: every problem, each with its JSON path and label) and turned into
the typed request the provider's call takes; each call's result is turned into Kibana's response
shape (stack_connectors `inference.ts`):

| sub-action | params | answer |
|---|---|---|
| `unified_completion` | `{body: {messages, model?, max_tokens?, ...}}` | one `chat.completion` object |
| `unified_completion_stream` | same | `chat.completion.chunk` events |
| `completion` | `{input}` | `[{"result": str}]` |
| `text_embedding` | `{input, inputType}` | `[{"embedding": [float, ...]}]` |
| `sparse_embedding` | `{input}` | `[{"is_truncated": false, "embedding": {token: weight}}, ...]` |
| `rerank` | `{input: [str, ...], query}` | `[{"index", "score", "text"?}]` |
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from ai_connector.errors import ConfigValidationError, FieldError, UnsupportedTaskError
from ai_connector.runtime.schemacheck import compile_check, lone_surrogate_path
from ai_connector.types import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Provider,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.validation import schema_errors

__all__ = [
    "STREAM_SUB_ACTION",
    "SUB_ACTIONS",
    "SubAction",
    "default_sub_action",
    "params_schema",
    "parse_params",
    "sub_action",
]

STREAM_SUB_ACTION = "unified_completion_stream"


def _inputs(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _chat(params: Mapping[str, Any]) -> ChatRequest:
    body = params["body"]
    stop = body.get("stop")
    tool_choice = body.get("tool_choice")
    tools = body.get("tools")
    metadata = body.get("metadata")
    # `n` is dropped, as Kibana does: "constant is used on the inference API side".
    return ChatRequest(
        messages=tuple(dict(m) for m in body["messages"]),
        model=body.get("model"),
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=None if stop is None else _inputs(stop),
        tools=None if tools is None else tuple(dict(t) for t in tools),
        tool_choice=tool_choice if tool_choice is None or isinstance(tool_choice, str) else dict(tool_choice),
        user=body.get("user"),
        metadata=None if metadata is None else dict(metadata),
        use_case=(params.get("telemetryMetadata") or {}).get("pluginId"),
    )


def _completion(params: Mapping[str, Any]) -> CompletionRequest:
    return CompletionRequest(input=params["input"])


def _text_embedding(params: Mapping[str, Any]) -> EmbeddingRequest:
    return EmbeddingRequest(input=_inputs(params["input"]), input_type=params["inputType"])


def _sparse_embedding(params: Mapping[str, Any]) -> SparseEmbeddingRequest:
    return SparseEmbeddingRequest(input=_inputs(params["input"]))


def _rerank(params: Mapping[str, Any]) -> RerankRequest:
    return RerankRequest(query=params["query"], input=tuple(params["input"]))


def _completion_answer(results: Sequence[str]) -> list[dict[str, Any]]:
    return [{"result": r} for r in results]


def _embedding_answer(vectors: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    return [{"embedding": list(v)} for v in vectors]


def _sparse_answer(weights: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
    # Elasticsearch's shape, which Kibana passes through (`response.sparse_embedding`).
    return [{"is_truncated": False, "embedding": dict(w)} for w in weights]


def _rerank_answer(results: Sequence[RerankResult]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        item: dict[str, Any] = {"index": r.index, "score": r.score}
        if r.text is not None:
            item["text"] = r.text
        out.append(item)
    return out


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class SubAction:
    """One Kibana sub-action: the task type it needs, how its params become a request, how the
    provider's result becomes Kibana's answer."""

    name: str
    task_type: TaskType
    to_request: Callable[[Mapping[str, Any]], Any]
    to_answer: Callable[[Any], Any] = _identity
    streaming: bool = False


SUB_ACTIONS: Mapping[str, SubAction] = {
    s.name: s
    for s in (
        SubAction("unified_completion", TaskType.CHAT_COMPLETION, _chat),
        SubAction(STREAM_SUB_ACTION, TaskType.CHAT_COMPLETION, _chat, streaming=True),
        SubAction("completion", TaskType.COMPLETION, _completion, _completion_answer),
        SubAction("text_embedding", TaskType.TEXT_EMBEDDING, _text_embedding, _embedding_answer),
        SubAction("sparse_embedding", TaskType.SPARSE_EMBEDDING, _sparse_embedding, _sparse_answer),
        SubAction("rerank", TaskType.RERANK, _rerank, _rerank_answer),
    )
}

# Kibana's test runs `unified_completion` for chat_completion, the task type itself otherwise.
_DEFAULT_FOR_TASK = {
    TaskType.CHAT_COMPLETION: "unified_completion",
    TaskType.COMPLETION: "completion",
    TaskType.TEXT_EMBEDDING: "text_embedding",
    TaskType.SPARSE_EMBEDDING: "sparse_embedding",
    TaskType.RERANK: "rerank",
}


def default_sub_action(task_type: TaskType | str) -> str:
    """The sub-action Kibana runs for a connector of `task_type` (its *Test* tab's choice)."""
    return _DEFAULT_FOR_TASK[TaskType(task_type)]


@functools.cache
def params_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of sub-action `name`'s params (`schemas/subactions/<name>.json`)."""
    path = resources.files("ai_connector").joinpath("schemas", "subactions", f"{name}.json")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(params_schema(name))


@functools.cache
def _quick_check(name: str) -> Any:
    return compile_check(params_schema(name))


def sub_action(name: str, provider: Provider, task_type: TaskType) -> SubAction:
    """The sub-action `name` for a connector of `provider` and `task_type`.

    Raises UnsupportedTaskError naming the sub-action, task type and provider when the name is
    unknown, needs another task type, or the provider lacks the call.
    """
    spec = SUB_ACTIONS.get(name)
    if spec is None:
        known = ", ".join(SUB_ACTIONS)
        raise UnsupportedTaskError(f'Sub action "{name}" is not registered (known sub-actions: {known})')
    if spec.task_type is not task_type:
        raise UnsupportedTaskError(
            f'Sub action "{name}" needs a {spec.task_type.value} connector; this connector\'s task type '
            f"is {task_type.value} (provider {provider.id}). Use sub-action "
            f'"{default_sub_action(task_type)}".'
        )
    if task_type not in provider.task_types or provider.call_for(task_type) is None:
        raise UnsupportedTaskError(
            f'Sub action "{name}" is not supported: provider {provider.id} ({provider.name}) does not '
            f"offer the {task_type.value} task type"
        )
    return spec


def parse_params(spec: SubAction, params: Any) -> Any:
    """Validate `params` against the sub-action's schema and build the provider request.

    Raises ConfigValidationError(what="params") listing every problem. Valid params (the common
    case) are recognised by a fast check; jsonschema runs only to explain a refusal.
    """
    quick = _quick_check(spec.name)
    if quick is None or not quick(params):
        errors = schema_errors(_validator(spec.name), params)
        if errors:
            raise ConfigValidationError(errors, what=f"{spec.name} params")
        where = lone_surrogate_path(params)  # the quick check refuses these too: say where
        if where is not None:  # it would otherwise fail only when the body is encoded
            field = where.rsplit(".", 1)[-1].split("[", 1)[0]
            message = "contains a lone surrogate (invalid Unicode), which no request body can carry"
            raise ConfigValidationError(
                [FieldError(where, field, field, message)], what=f"{spec.name} params"
            )
    return spec.to_request(params)
