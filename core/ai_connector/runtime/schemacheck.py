"""A fast yes/no check of a value against a simple JSON Schema, for the hot path of every call.

jsonschema's validator costs about 100 us for a chat request's params; most params are valid, so the
runtime first asks this checker, and runs jsonschema (for its precise, collected error messages) only
when the answer is no. The checker understands the keywords the sub-action schemas use (`type`,
`properties`, `required`, `additionalProperties`, `items`, `minItems`, `maxItems`, `minLength`,
`maxLength`, `minimum`, `maximum`) with jsonschema's Draft 2020-12 semantics, and also says no to a
string or key holding a lone surrogate (no UTF-8 body can carry it); `compile_check` returns
None for a schema that uses any other keyword, and the caller then always uses jsonschema. A test
compares both on generated values.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_check", "lone_surrogate_path"]

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


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    """Whether `text` holds a lone surrogate: ASCII is a flag check, other text one UTF-8 encode
    (C speed, much faster than a regex scan of non-ASCII text)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _compile(schema: Any) -> Callable[[Any], bool]:
    """The check of `schema` as a closure (keywords looked up once, absent checks left out): `type`
    first, then the keywords of the value's own kind, with Draft 2020-12 semantics."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    kind = schema.get("type")
    type_ok: Callable[[Any], bool] | None = None
    if kind is not None:
        tests = tuple(_TYPES[k] for k in ((kind,) if isinstance(kind, str) else kind))
        type_ok = tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))
    required = tuple(schema.get("required", ()))
    props = {key: _compile(sub) for key, sub in schema.get("properties", {}).items()}
    extra_schema = schema.get("additionalProperties", True)
    extra = None if extra_schema is True else _compile(extra_schema)
    min_items, max_items = schema.get("minItems", 0), schema.get("maxItems")
    items_schema = schema.get("items", True)
    items = None if items_schema is True else _compile(items_schema)
    min_length, max_length = schema.get("minLength", 0), schema.get("maxLength")
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    has_minimum, has_maximum = "minimum" in schema, "maximum" in schema

    def check(value: Any) -> bool:
        if type_ok is not None and not type_ok(value):
            return False
        if isinstance(value, dict):
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                if isinstance(key, str) and not key.isascii() and _has_surrogate(key):
                    return False
                sub = props.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra is not None and not extra(item):
                    return False
        elif isinstance(value, list):
            if len(value) < min_items or (max_items is not None and len(value) > max_items):
                return False
            if items is not None:
                for item in value:
                    if not items(item):
                        return False
        elif isinstance(value, str):
            if len(value) < min_length or (max_length is not None and len(value) > max_length):
                return False
            if not value.isascii() and _has_surrogate(value):
                return False  # no request body can carry it: let the caller explain
        elif _is_number(value):
            if has_minimum and value < minimum:
                return False
            if has_maximum and value > maximum:
                return False
        return True

    return check


def compile_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A function telling whether a value is valid, or None when the schema is beyond this checker."""
    if not _supported(schema):
        return None
    try:
        return _compile(schema)
    except KeyError:  # a `type` this checker does not know
        return None


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) in `value` holding a lone surrogate, which
    no UTF-8 request body can carry; None when there is none."""
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if _has_surrogate(name):  # the key itself (shown with U+FFFD: the path must be encodable)
                name = _SURROGATE.sub("\ufffd", name)
                return f"{path}.{name}" if path else name
            found = lone_surrogate_path(item, f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
