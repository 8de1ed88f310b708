"""Hypothesis strategies for what callers send: connector documents for every built-in provider
(settings and secrets drawn from each provider's own schemas, mostly valid, sometimes not) and
`_execute` params for every sub-action (drawn from the sub-action schemas, plus junk)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from hypothesis import strategies as st

from ai_connector.types import thaw
from canaries import canary_secret
from connector_documents import builtin_registry, settings_for, task_of

# Text as callers type it, control characters and all (lone surrogates cannot cross JSON as UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
ANY_JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def from_schema(schema: Mapping[str, Any], *, secret: bool = False) -> st.SearchStrategy[Any]:
    """Values for a JSON Schema node: valid ones three times in four, any JSON otherwise."""
    valid = _valid(schema, secret)
    return valid if secret else st.one_of(valid, valid, valid, ANY_JSON)


def _valid(schema: Mapping[str, Any], secret: bool) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*(_valid({**schema, "type": k}, secret) for k in kind))
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e9), schema.get("maximum", 1e9), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_valid(schema.get("items", {}), secret), min_size=1, max_size=3)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: _valid(v, secret) for k, v in props.items() if k in required},
            optional={k: _valid(v, secret) for k, v in props.items() if k not in required},
        )
    if secret:
        return st.just(canary_secret("hypothesis"))
    if schema.get("format") == "uri":
        return st.sampled_from(["http://127.0.0.1:9/v1", "https://api.example.com"]) | TEXT
    return st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=20) | TEXT


@st.composite
def connector_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A Kibana create body for a built-in provider, its settings drawn from the provider's schemas."""
    provider = draw(st.sampled_from(sorted(builtin_registry().providers.values(), key=lambda p: p.id)))
    schema = thaw(provider.settings_schema)
    settings = draw(_valid(schema, False) if draw(st.booleans()) else from_schema(schema))
    if isinstance(settings, dict) and "url" in schema.get("properties", {}) and draw(st.integers(0, 3)):
        # The host allows only 127.0.0.1 (a closed port): a provider's public default is refused.
        settings["url"] = "http://127.0.0.1:9/v1"
    every = {k: canary_secret("hypothesis") for k in thaw(provider.auth_schema).get("properties", {})}
    needed = settings_for(provider, secret=True) or {"api_key": canary_secret("hypothesis")}
    secrets = draw(st.sampled_from([needed, needed, every, {}]))
    config: dict[str, Any] = {
        "provider": provider.id,
        "taskType": task_of(provider),
        "providerConfig": settings,
    }
    if draw(st.booleans()):
        config["contextWindowLength"] = draw(st.integers(1, 2**20) | st.integers(-5, 2**40) | TEXT)
    if draw(st.integers(0, 3)) == 0:
        config["headers"] = draw(st.dictionaries(TEXT, TEXT, max_size=3))
    return {
        "name": draw(st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1) | TEXT),
        "connector_type_id": ".inference",
        "config": config,
        "secrets": {"providerSecrets": secrets},
    }


def _subaction_schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files("ai_connector") / "schemas" / "subactions"
    return {
        f.name.removesuffix(".json"): json.loads(f.read_text(encoding="utf-8"))
        for f in folder.iterdir()
        if f.name.endswith(".json")
    }


SUBACTIONS = _subaction_schemas()


@st.composite
def execute_params(draw: st.DrawFn) -> dict[str, Any]:
    """`_execute` params: a known sub-action with params from its schema (or junk), or junk."""
    name = draw(st.sampled_from(sorted(SUBACTIONS)) | TEXT)
    schema = SUBACTIONS.get(name)
    params = draw(from_schema(schema)) if schema is not None else draw(ANY_JSON)
    out: dict[str, Any] = {"subAction": name, "subActionParams": params}
    if draw(st.booleans()):
        out[draw(TEXT)] = draw(ANY_JSON)
    return out
