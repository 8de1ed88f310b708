"""The template language of Elasticsearch's `custom` inference service: `${name}` placeholders in a
URL, headers, query parameters and a JSON request body, and JSONPath-like response paths.

As ES's CustomRequest does: the URL, headers and query parameters take string values as they are;
the request body takes every value JSON-encoded (so `${input}` becomes `["a","b"]`); a placeholder
left without a value is an error naming it and the field, never sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ai_connector.calling import current_provider
from ai_connector.errors import InvalidResponseError

__all__ = ["TemplateError", "json_path", "leftover_placeholder", "substitute"]

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\*|-?\d+)\]")


class TemplateError(ValueError):
    """A template names a placeholder nothing defines."""


def substitute(template: str, values: Mapping[str, Any], field: str, *, as_json: bool) -> str:
    """`template` with each `${key}` replaced by its value (JSON-encoded when `as_json`); a
    TemplateError (ES's text) when a placeholder is left."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        found = values[key]
        return json.dumps(found) if as_json else str(found)

    out = _PLACEHOLDER.sub(value, template)
    left = leftover_placeholder(out)
    if left is not None:
        raise TemplateError(
            f"Found placeholder [${{{left}}}] in field [{field}] after replacement call, "
            "please check that all templates have a corresponding field definition."
        )
    return out


def leftover_placeholder(text: str) -> str | None:
    """The first `${name}` still in `text`, else None."""
    match = _PLACEHOLDER.search(text)
    return None if match is None else match.group(1)


def json_path(document: Any, path: str, what: str) -> Any:
    """The value at `path` (`$.a.b[*].c`, `$.a[0]`; `[*]` maps over a list, keeping its nesting);
    an InvalidResponseError naming `what` when the answer has no such value."""
    who = current_provider() or "the provider"
    if not path.startswith("$"):
        raise InvalidResponseError(f"{who}: the {what} path {path!r} does not start with `$`")
    steps = list(_STEP.finditer(path, 1))
    if "".join(m.group(0) for m in steps) != path[1:]:
        raise InvalidResponseError(f"{who}: the {what} path {path!r} is not a `$.key[*]`-style path")
    try:
        return _walk(document, [(m.group(1), m.group(2)) for m in steps])
    except (KeyError, IndexError, TypeError):
        raise InvalidResponseError(f"{who}: the answer has no {what} at {path}") from None


def _walk(node: Any, steps: list[tuple[str | None, str | None]]) -> Any:
    for i, (key, index) in enumerate(steps):
        if key is not None:
            if not isinstance(node, Mapping):
                raise TypeError(key)
            node = node[key]
        elif index == "*":
            if not isinstance(node, list):
                raise TypeError(index)
            return [_walk(item, steps[i + 1 :]) for item in node]
        else:
            if not isinstance(node, list):
                raise TypeError(index)
            node = node[int(index or 0)]
    return node
