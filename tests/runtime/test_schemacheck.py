"""The fast params check agrees with jsonschema on every sub-action schema, so skipping jsonschema
for params the fast check accepts never lets an invalid request through."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ai_connector.runtime.schemacheck import compile_check
from ai_connector.runtime.subactions import SUB_ACTIONS, params_schema

KEYS = st.sampled_from(
    ["body", "messages", "role", "content", "input", "inputType", "query", "model", "max_tokens", "stop",
     "tools", "type", "function", "name", "tool_choice", "metadata", "top_p", "temperature", "n", "text", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from([1.0, 0.0, 2.5]),
    st.text(max_size=3),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def near_valid(name: str) -> st.SearchStrategy:
    """Mostly-valid params with one random part, so both valid and invalid cases are common."""
    message = st.fixed_dictionaries({"role": st.sampled_from(["user", ""]), "content": VALUES})
    if name.startswith("unified"):
        body = st.fixed_dictionaries(
            {"messages": st.lists(message, max_size=2)},
            optional={
                "max_tokens": VALUES,
                "stop": VALUES,
                "tool_choice": VALUES,
                "tools": VALUES,
                "metadata": VALUES,
            },
        )
        return st.fixed_dictionaries({"body": body}, optional={"telemetryMetadata": VALUES})
    return st.fixed_dictionaries(
        {}, optional={"input": VALUES, "inputType": VALUES, "query": VALUES, "x": VALUES}
    )


@pytest.mark.parametrize("name", list(SUB_ACTIONS))
def test_every_sub_action_schema_is_within_the_fast_checker(name: str) -> None:
    assert compile_check(params_schema(name)) is not None


@pytest.mark.parametrize("name", list(SUB_ACTIONS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_fast_check_agrees_with_jsonschema(name: str, data: st.DataObject) -> None:
    value = data.draw(st.one_of(near_valid(name), VALUES))
    check = compile_check(params_schema(name))
    assert check is not None
    assert check(value) == Draft202012Validator(params_schema(name)).is_valid(value)


def test_a_schema_with_other_keywords_is_left_to_jsonschema() -> None:
    assert compile_check({"type": "string", "pattern": "^a"}) is None
    assert compile_check({"anyOf": [{"type": "string"}]}) is None
    assert compile_check({"type": "object", "properties": {"a": {"enum": [1]}}}) is None
