"""A fast yes/no check of a value against a simple JSON Schema, for the hot path of every call.

jsonschema's validator costs about 100 us for a chat request's params; most params are valid, so the
runtime first asks this checker, and runs jsonschema (for its precise, collected error messages) only
when the answer is no. The checker understands the keywords the sub-action schemas use (`type`,
`properties`, `required`, `additionalProperties`, `items`, `minItems`, `maxItems`, `minLength`,
`maxLength`, `minimum`, `maximum`) with jsonschema's Draft 2020-12 semantics; `compile_check` returns
None for a schema that uses any other keyword, and the caller then always uses jsonschema. A test
compares both on generated values.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_check"]

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples"})
_CHECKED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
    }
)


def _supported(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return isinstance(schema, bool)
    if not set(schema) <= _ANNOTATIONS | _CHECKED:
        return False
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    items = schema.get("items", True)
    return all(_supported(s) for s in props.values()) and _supported(extra) and _supported(items)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
}


def _conforms(schema: Any, value: Any) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    kind = schema.get("type")
    if kind is not None:
        kinds = (kind,) if isinstance(kind, str) else kind
        if not any(_TYPES[k](value) for k in kinds):
            return False
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return False
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key)
            if sub is not None:
                if not _conforms(sub, item):
                    return False
            elif extra is not True and not _conforms(extra, item):
                return False
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            return False
        items = schema.get("items", True)
        if items is not True and not all(_conforms(items, v) for v in value):
            return False
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            return False
    elif _is_number(value):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    return True


def compile_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A function telling whether a value is valid, or None when the schema is beyond this checker."""
    if not _supported(schema):
        return None
    return lambda value: _conforms(schema, value)
