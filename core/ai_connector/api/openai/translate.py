"""OpenAI request bodies turned into the host's unified sub-action params.

The unified `unified_completion` contract (Kibana's, an OpenAI chat body subset) carries messages,
`max_tokens`, `temperature`, `top_p`, `stop`, `tools`, `tool_choice`, `user` and `metadata`; every
provider receives them and refuses what its service cannot do, except `user` and `metadata`, which a
provider carries only when it says so (`Provider.chat_options`): the route refuses them for any other
(ChatCall.options). Any other OpenAI parameter set to something other than its default cannot reach
the provider, so it is refused with a 400 naming the parameter, never dropped. `text_embedding` and
`completion` carry only their input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ai_connector.api.openai.errors import bad_request
from ai_connector.types import CHAT_OPTIONS

__all__ = ["ChatCall", "chat_params", "completion_params", "embedding_params", "model_of"]

# OpenAI chat parameters that pass to the unified params unchanged.
_CHAT_PASSED = ("temperature", "top_p", "stop", "tools", "tool_choice", "user", "metadata")


def _absent(value: Any) -> bool:
    return value is None


def _is(*allowed: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or any(value == a and type(value) is type(a) for a in allowed)


def _format_text(value: Any) -> bool:
    return value is None or (isinstance(value, Mapping) and value.get("type") == "text" and len(value) == 1)


# Parameters of OpenAI's CreateChatCompletionRequest the unified contract has no room for, with
# the values that mean "the default" (those are honoured by not sending anything).
_CHAT_DEFAULT_ONLY: dict[str, Callable[[Any], bool]] = {
    "frequency_penalty": _is(0, 0.0),
    "presence_penalty": _is(0, 0.0),
    "logit_bias": lambda v: v is None or v == {},
    "logprobs": _is(False),
    "top_logprobs": _is(0),
    "n": _is(1),
    "seed": _absent,
    "response_format": _format_text,
    "service_tier": _is("auto"),
    "parallel_tool_calls": _is(True),
    "store": _is(False),
    "modalities": lambda v: v is None or v == ["text"],
    "audio": _absent,
    "prediction": _absent,
    "reasoning_effort": _absent,
    "web_search_options": _absent,
    "functions": _absent,
    "function_call": _absent,
}
_CHAT_OWN = frozenset(
    {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"}
)
_CHAT_KNOWN = _CHAT_OWN | frozenset(_CHAT_PASSED) | frozenset(_CHAT_DEFAULT_ONLY)

_COMPLETION_DEFAULT_ONLY: dict[str, Callable[[Any], bool]] = {
    "best_of": _is(1),
    "echo": _is(False),
    "frequency_penalty": _is(0, 0.0),
    "presence_penalty": _is(0, 0.0),
    "logit_bias": lambda v: v is None or v == {},
    "logprobs": _absent,
    "max_tokens": _absent,
    "n": _is(1),
    "seed": _absent,
    "stop": _absent,
    "suffix": _absent,
    "temperature": _absent,
    "top_p": _absent,
    "user": _absent,
}

_EMBEDDING_DEFAULT_ONLY: dict[str, Callable[[Any], bool]] = {"dimensions": _absent, "user": _absent}
_COMPLETION_KNOWN = frozenset({"model", "prompt", "stream", "stream_options", *_COMPLETION_DEFAULT_ONLY})
_EMBEDDING_KNOWN = frozenset({"model", "input", "encoding_format", "input_type", *_EMBEDDING_DEFAULT_ONLY})
# Not OpenAI's: Kibana's text_embedding needs an input type (`ingest` or `search`); a client may
# send it through its SDK's extra body. Ingest is what a document store embeds most.
DEFAULT_INPUT_TYPE = "ingest"


def _refuse_unhonoured(
    body: Mapping[str, Any], known: frozenset[str], default_only: Mapping[str, Callable[[Any], bool]]
) -> None:
    """400 for a parameter OpenAI does not have, or one this path cannot honour with its value."""
    for key, value in body.items():
        if key not in known:
            raise bad_request(f"Unrecognized request argument supplied: {key}", param=key)
        accepts = default_only.get(key)
        if accepts is not None and not accepts(value):
            raise bad_request(
                f"Unsupported parameter: '{key}' cannot be honoured by this connector's provider "
                "through the host's unified API; leave it unset.",
                param=key,
                code="unsupported_parameter",
            )


def model_of(body: Any) -> str:
    """The body's `model` (a connector id or inferenceId); refuses a body that is not an object."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", param="model")
    return model


def _text_of(content: list[Any], where: str) -> str:
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind not in ("text", "refusal") or not isinstance(part.get(kind), str):
            raise bad_request(
                f"Unsupported content part type {kind!r}: the host's unified API carries text parts only.",
                param=f"{where}.content[{j}].type",
                code="unsupported_value",
            )
        texts.append(part[kind])
    return "".join(texts)


def _message(message: Any, i: int) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise bad_request(f"Invalid value for '{where}': expected an object with a role.", param=where)
    out = dict(message)
    role = out["role"]
    if role == "developer":  # OpenAI's newer name for system instructions; every provider has system
        out["role"] = "system"
    elif role == "function":
        raise bad_request(
            "Unsupported parameter: 'function' messages are deprecated; use tools and 'tool' messages.",
            param=f"{where}.role",
            code="unsupported_value",
        )
    if isinstance(out.get("content"), list):
        out["content"] = _text_of(out["content"], where)
    for key in ("refusal", "audio", "function_call"):
        if out.get(key) is None:
            out.pop(key, None)
        else:
            raise bad_request(
                f"Unsupported parameter: '{where}.{key}' cannot be sent through the host's unified API.",
                param=f"{where}.{key}",
                code="unsupported_parameter",
            )
    return out


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A chat request: the unified params, whether to stream, whether to send usage when streaming,
    and which optional fields (`user`, `metadata`) it sets."""

    params: dict[str, Any]
    stream: bool
    include_usage: bool
    options: frozenset[str] = frozenset()  # `user`, `metadata` if set: the provider must carry them


def chat_params(body: Mapping[str, Any]) -> ChatCall:
    """`POST /chat/completions`'s body as `unified_completion` params (400 on what cannot be honoured)."""
    _refuse_unhonoured(body, _CHAT_KNOWN, _CHAT_DEFAULT_ONLY)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array.", param="messages")
    out: dict[str, Any] = {"messages": [_message(m, i) for i, m in enumerate(messages)]}
    max_tokens = body.get("max_tokens")
    max_completion = body.get("max_completion_tokens")
    if max_tokens is not None and max_completion is not None and max_tokens != max_completion:
        raise bad_request(
            "'max_tokens' and 'max_completion_tokens' disagree; send one of them.",
            param="max_completion_tokens",
        )
    limit = max_completion if max_completion is not None else max_tokens
    if limit is not None:
        out["max_tokens"] = limit
    for key in _CHAT_PASSED:
        if body.get(key) is not None:
            out[key] = body[key]
    stream, include_usage = _streaming(body)
    optional = frozenset(key for key in CHAT_OPTIONS if out.get(key) not in (None, "", {}))
    return ChatCall({"body": out}, stream, include_usage, optional)


def _streaming(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(`stream`, `stream_options.include_usage`), checked as OpenAI checks them."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    if options is not None and not isinstance(options, Mapping):
        raise bad_request("'stream_options' must be an object.", param="stream_options")
    return bool(stream), bool(options and options.get("include_usage"))


def _inputs(value: Any, param: str, *, single: bool) -> str | list[str]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if single and len(value) != 1:
            raise bad_request(
                f"'{param}' must be one string: the connector's completion task takes one input.",
                param=param,
                code="unsupported_value",
            )
        return value[0] if single else list(value)
    raise bad_request(
        f"'{param}' must be a non-empty string or array of strings (token arrays are not supported).",
        param=param,
    )


def embedding_params(body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """`POST /embeddings`'s body as `text_embedding` params, and the encoding format asked for."""
    _refuse_unhonoured(body, _EMBEDDING_KNOWN, _EMBEDDING_DEFAULT_ONLY)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request(f"Invalid value for 'encoding_format': {encoding!r}.", param="encoding_format")
    input_type = body.get("input_type") or DEFAULT_INPUT_TYPE
    if not isinstance(input_type, str):
        raise bad_request("'input_type' must be a string.", param="input_type")
    return {"input": _inputs(body.get("input"), "input", single=False), "inputType": input_type}, encoding


def completion_params(body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """`POST /completions`'s body as `completion` params (which carry only the prompt), and whether
    to stream the answer. (`include_usage` is accepted and answers nothing: the completion task
    reports no usage, and OpenAI sends its usage chunk only when usage is known.)"""
    _refuse_unhonoured(body, _COMPLETION_KNOWN, _COMPLETION_DEFAULT_ONLY)
    stream, _include_usage = _streaming(body)
    return {"input": _inputs(body.get("prompt"), "prompt", single=True)}, stream
