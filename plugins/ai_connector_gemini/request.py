"""OpenAI-shaped requests translated into Gemini's `GenerateContentRequest`.

`messages` become `contents` (roles `user`/`model`) plus a `systemInstruction`; assistant tool calls become
`functionCall` parts and tool results `functionResponse` parts; `tools` become `functionDeclarations`,
`tool_choice` a `toolConfig`, and the sampling options a `generationConfig`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.plugin import ChatRequest, InvalidRequestError, current_provider

__all__ = [
    "SYNTHETIC_CALL_ID_PREFIX",
    "chat_body",
    "embedding_task_type",
    "prompt_body",
]

# Gemini often returns function calls without an id; the stream gives them one with this prefix, and
# such ids are not sent back to Google (it never issued them).
SYNTHETIC_CALL_ID_PREFIX = "gemini-call-"

# Google's documented placeholder for a replayed function call whose thought signature the client did
# not keep: Gemini 3 refuses a history whose first function call of a step carries no signature.
_SKIP_SIGNATURE = "skip_thought_signature_validator"

# The OpenAPI-subset `Schema` fields Gemini accepts in a function declaration; JSON Schema extras such
# as `additionalProperties` or `$schema` make the whole request fail with 400 "Unknown name".
_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)

_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

# Kibana's `inputType` (ES input_type) -> Gemini/Vertex embedding `taskType`.
_EMBEDDING_TASK_TYPES = {
    "ingest": "RETRIEVAL_DOCUMENT",
    "search": "RETRIEVAL_QUERY",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
}


def embedding_task_type(input_type: str | None) -> str | None:
    """The embedding `taskType` for Kibana's `inputType` (`ingest` -> RETRIEVAL_DOCUMENT, `search` ->
    RETRIEVAL_QUERY); None when there is none to send."""
    if not input_type:
        return None
    return _EMBEDDING_TASK_TYPES.get(input_type.lower())


def prompt_body(text: str, *, max_output_tokens: int | None = None) -> dict[str, Any]:
    """A one-turn `generateContent` body for a plain prompt (ES `completion`, and the test call)."""
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if max_output_tokens is not None:
        body["generationConfig"] = {"maxOutputTokens": max_output_tokens}
    return body


def _refuse(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{current_provider()}: {message}")


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """Gemini parts for an OpenAI message `content`: a string or a list of text / data-URL image parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []  # Google refuses empty text parts
    if not isinstance(content, Sequence):
        raise _refuse("message content must be a string or a list of content parts")
    parts: list[dict[str, Any]] = []
    for item in content:
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind == "text":
            text = item.get("text")
            if isinstance(text, str) and text:
                parts.append({"text": text})
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            parts.append(_inline_image(url))
        else:
            raise _refuse(f"content part type {kind!r} is not supported (text, image_url)")
    return parts


def _inline_image(url: Any) -> dict[str, Any]:
    # Only data URLs can be inlined; Gemini cannot fetch an arbitrary http(s) image URL.
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise _refuse("image_url parts must be base64 data URLs (data:<mime>;base64,...)")
    header, data = url[5:].split(";base64,", 1)
    return {"inlineData": {"mimeType": header or "application/octet-stream", "data": data}}


def _schema(node: Any) -> Any:
    """A JSON Schema reduced to the fields Gemini's `Schema` knows; `["T", "null"]` types -> nullable T."""
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _SCHEMA_KEYS:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [_schema(sub) for sub in value]
        elif key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if len(kinds) == 1:
                out[key] = kinds[0]
            if len(kinds) < len(value):
                out["nullable"] = True
        else:
            out[key] = value
    return out


def _function_call_part(call: Mapping[str, Any], *, first: bool) -> dict[str, Any]:
    fn = call.get("function") or {}
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise _refuse("an assistant tool call has no function name")
    raw = fn.get("arguments") or "{}"
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise _refuse(f"the arguments of tool call {name!r} are not valid JSON") from None
    if not isinstance(args, Mapping):
        raise _refuse(f"the arguments of tool call {name!r} must be a JSON object")
    function_call: dict[str, Any] = {"name": name, "args": dict(args)}
    call_id = call.get("id")
    if isinstance(call_id, str) and call_id and not call_id.startswith(SYNTHETIC_CALL_ID_PREFIX):
        function_call["id"] = call_id
    part: dict[str, Any] = {"functionCall": function_call}
    if first:
        part["thoughtSignature"] = _SKIP_SIGNATURE
    return part


def _function_response_part(message: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    name = names.get(call_id) if isinstance(call_id, str) else None
    name = name or message.get("name") or call_id
    if not isinstance(name, str) or not name:
        raise _refuse("a tool message needs the tool_call_id of the call it answers")
    text = "".join(p["text"] for p in _content_parts(message.get("content")) if "text" in p)
    response: Any
    try:
        response = json.loads(text) if text else {}
    except ValueError:
        response = text
    if not isinstance(response, dict):
        # Google reads `response` as the function's output object; anything else is wrapped.
        response = {"output": response}
    function_response: dict[str, Any] = {"name": name, "response": response}
    if isinstance(call_id, str) and call_id and not call_id.startswith(SYNTHETIC_CALL_ID_PREFIX):
        function_response["id"] = call_id
    return {"functionResponse": function_response}


def _tool_config(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, str):
        mode = _TOOL_MODES.get(choice)
        if mode is None:
            raise _refuse(f"tool_choice {choice!r} is not supported (auto, none, required)")
        return {"functionCallingConfig": {"mode": mode}}
    fn = choice.get("function") if isinstance(choice, Mapping) else None
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if choice.get("type", "function") != "function" or not isinstance(name, str) or not name:
        raise _refuse('tool_choice must name a function: {"type": "function", "function": {"name"}}')
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def chat_body(request: ChatRequest) -> dict[str, Any]:
    """The `generateContent` / `streamGenerateContent` body for an OpenAI-shaped chat request.

    Consecutive tool results are merged into one `user` turn, as Gemini wants all the answers to a
    step's parallel calls together. Raises InvalidRequestError for what Gemini cannot express.
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, to name each functionResponse
    last_kind: str | None = None
    for message in request.messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_content_parts(message.get("content")))
            continue
        if role == "user":
            gemini_role, parts = "user", _content_parts(message.get("content"))
        elif role == "assistant":
            gemini_role, parts = "model", _content_parts(message.get("content"))
            for i, call in enumerate(message.get("tool_calls") or ()):
                parts.append(_function_call_part(call, first=i == 0))
                if isinstance(call.get("id"), str):
                    names[call["id"]] = call["function"]["name"]
        elif role == "tool":
            gemini_role, parts = "user", [_function_response_part(message, names)]
        else:
            raise _refuse(f"message role {role!r} is not supported (system, user, assistant, tool)")
        if not parts:
            continue
        kind = "tool" if role == "tool" else gemini_role
        if kind == last_kind:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
        last_kind = kind
    if not contents:
        raise _refuse("the request has no user or assistant message with content")

    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        declarations = []
        for tool in request.tools:
            fn = tool.get("function") if tool.get("type", "function") == "function" else None
            if not isinstance(fn, Mapping) or not fn.get("name"):
                raise _refuse("only function tools with a name are supported")
            declaration: dict[str, Any] = {"name": fn["name"]}
            if fn.get("description"):
                declaration["description"] = fn["description"]
            if fn.get("parameters"):
                declaration["parameters"] = _schema(fn["parameters"])
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
    if request.tool_choice is not None:
        body["toolConfig"] = _tool_config(request.tool_choice)
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = [request.stop] if isinstance(request.stop, str) else list(request.stop)
    if config:
        body["generationConfig"] = config
    return body
