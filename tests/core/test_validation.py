"""Connector validation: every error at once, with path, label and a plain reason; dotted keys;
defaults; sensitive values never echoed; and arbitrary JSON never crashes it."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_connector.descriptor import service_descriptor
from ai_connector.errors import ConfigValidationError
from ai_connector.manager import load_registry
from ai_connector.plugin import ChatChunk, Provider, TaskType, TestResult, hookimpl
from ai_connector.urlpolicy import UrlPolicy
from ai_connector.validation import unflatten, validate_connector

CANARY = "canary-secret-9a8b7c6d5e4f"

SETTINGS = {
    "type": "object",
    "properties": {
        "model_id": {"type": "string", "title": "Model ID", "description": "The model."},
        "url": {"type": "string", "title": "URL", "format": "uri", "default": "https://api.fake.test/v1"},
        "location": {"type": "string", "title": "GCP Region", "x-task-types": ["chat_completion"]},
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "x-task-types": ["text_embedding"],
            "minimum": 1,
        },
        "rate_limit": {
            "type": "object",
            "title": "Rate Limit",
            "properties": {
                "requests_per_minute": {
                    "type": "integer",
                    "title": "Rate Limit",
                    "description": "Minimize the number of rate limit errors.",
                    "minimum": 1,
                }
            },
            "additionalProperties": False,
        },
    },
    "required": ["model_id", "location"],
    "additionalProperties": False,
}
AUTH = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "title": "API Key", "x-sensitive": True, "x-updatable": True},
        "entra_id": {"type": "string", "title": "Entra ID", "x-sensitive": True, "x-updatable": True},
        "service_account_json": {
            "type": "string",
            "title": "Credentials JSON",
            "x-sensitive": True,
            "x-format": "json",
        },
    },
    "oneOf": [{"required": ["api_key"]}, {"required": ["entra_id"]}],
    "additionalProperties": False,
}
TASK = {
    "type": "object",
    "properties": {"user": {"type": "string", "title": "User"}},
    "additionalProperties": False,
}


async def _chat(endpoint, request, ctx):
    yield ChatChunk(content="x")


async def _embed(endpoint, request, ctx):
    return [[0.0]]


async def _test(endpoint, ctx):
    return TestResult(ok=True, message="ok")


def _urls(endpoint, host_settings):
    return [endpoint.settings["url"]]


class FakePlugin:
    @hookimpl
    def ai_connector_providers(self):
        return [
            Provider(
                id="fake",
                name="Fake Service",
                task_types={TaskType.CHAT_COMPLETION, TaskType.TEXT_EMBEDDING},
                settings_schema=SETTINGS,
                auth_schema=AUTH,
                task_settings_schemas={TaskType.TEXT_EMBEDDING: TASK},
                chat_completion_stream=_chat,
                text_embedding=_embed,
                test=_test,
                urls=_urls,
            )
        ]


@pytest.fixture(scope="module")
def registry():
    return load_registry(entry_points=False, plugins=[("fake", FakePlugin())])


def doc(
    provider_config: dict[str, Any],
    secrets: dict[str, Any] | None = None,
    task: str = "chat_completion",
    **config: Any,
) -> dict[str, Any]:
    return {
        "name": "My connector",
        "connector_type_id": ".inference",
        "config": {"provider": "fake", "taskType": task, "providerConfig": provider_config, **config},
        "secrets": {"providerSecrets": {"api_key": CANARY} if secrets is None else secrets},
    }


def errors_of(exc: pytest.ExceptionInfo[ConfigValidationError]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in exc.value.errors]


def test_a_valid_connector_gets_defaults_and_unflattened_settings(registry) -> None:
    v = validate_connector(
        doc({"model_id": "m", "location": "us", "rate_limit.requests_per_minute": 10}), registry
    )
    assert v.config["providerConfig"] == {
        "model_id": "m",
        "location": "us",
        "url": "https://api.fake.test/v1",
        "rate_limit": {"requests_per_minute": 10},
    }
    assert v.inference_id.startswith("fake-chat_completion-")
    assert v.endpoint().secrets["api_key"] == CANARY
    assert CANARY not in repr(v) and CANARY not in repr(v.endpoint())


def test_every_error_is_reported_at_once_with_label_and_reason(registry) -> None:
    bad = doc({"rate_limit.requests_per_minute": "many", "url": "not a url", "colour": "red"}, secrets={})
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector(bad, registry)
    assert errors_of(exc) == [
        (
            "config.providerConfig.colour",
            "'colour' is not a known field here (known: model_id, url, location, rate_limit)",
        ),
        ("config.providerConfig.location", "GCP Region is required"),
        ("config.providerConfig.model_id", "Model ID is required"),
        ("config.providerConfig.rate_limit.requests_per_minute", "Rate Limit must be an integer"),
        ("config.providerConfig.url", "URL must be an http(s) URL"),
        ("secrets.providerSecrets", "Provide exactly one of API Key or Entra ID"),
    ]
    assert exc.value.errors[2].label == "Model ID"


def test_fields_of_other_task_types_do_not_apply(registry) -> None:
    v = validate_connector(doc({"model_id": "m", "dimensions": 8}, task="text_embedding"), registry)
    assert v.config["providerConfig"]["dimensions"] == 8  # location is chat-only, so not required here
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector(doc({"model_id": "m", "location": "us", "dimensions": 8}), registry)
    assert errors_of(exc)[0][0] == "config.providerConfig.dimensions"


def test_a_sensitive_value_is_never_echoed(registry) -> None:
    both = doc(
        {"model_id": "m", "location": "us"},
        secrets={"api_key": CANARY, "entra_id": CANARY + "x", "service_account_json": CANARY + "{not json"},
    )
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector(both, registry)
    assert (
        "secrets.providerSecrets.service_account_json",
        "Credentials JSON must be a JSON object",
    ) in errors_of(exc)
    assert CANARY not in str(exc.value) and CANARY not in repr(exc.value)
    assert all(CANARY not in json.dumps(e.to_dict()) for e in exc.value.errors)


def test_empty_strings_count_as_missing_as_in_kibana(registry) -> None:
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector(doc({"model_id": "", "location": "us"}), registry)
    assert errors_of(exc) == [("config.providerConfig.model_id", "Model ID is required")]


def test_unknown_provider_and_task_type_use_kibanas_texts(registry) -> None:
    d = doc({})
    d["config"]["provider"] = "nope"
    with pytest.raises(
        ConfigValidationError, match=r"API Provider is not supported: nope by Inference Endpoint\."
    ):
        validate_connector(d, registry)
    with pytest.raises(
        ConfigValidationError, match=r"Task type is not supported: images by Inference Endpoint\."
    ):
        validate_connector(doc({}, task="images"), registry)
    with pytest.raises(ConfigValidationError, match="not supported by Fake Service"):
        validate_connector(doc({}, task="rerank"), registry)


def test_task_settings_and_context_window(registry) -> None:
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector(
            doc(
                {"model_id": "m"}, task="text_embedding", taskTypeConfig={"user": 3}, contextWindowLength=100
            ),
            registry,
        )
    assert errors_of(exc) == [
        ("config.taskTypeConfig.user", "User must be a string"),
        ("config.contextWindowLength", "Context window length applies only to the chat_completion task type"),
    ]
    v = validate_connector(doc({"model_id": "m", "location": "us"}, contextWindowLength=4096), registry)
    assert v.context_window_length == 4096


def test_the_document_itself_is_checked(registry) -> None:
    with pytest.raises(ConfigValidationError) as exc:
        validate_connector({"config": {"provider": 3}, "secrets": [], "extra": 1}, registry)
    assert errors_of(exc) == [
        ("config.provider", "Service must be a string"),
        ("config.taskType", "Task type is required"),
        ("extra", "'extra' is not a known field here (known: id, name, connector_type_id, config, secrets)"),
        ("name", "Connector name is required"),
        ("secrets", "Secrets must be an object"),
    ]


def test_missing_secrets_can_be_accepted_for_stored_connectors(registry) -> None:
    v = validate_connector(
        doc({"model_id": "m", "location": "us"}, secrets={}), registry, require_secrets=False
    )
    assert len(v.secrets) == 0


def test_url_policy_is_checked_at_save(registry) -> None:
    policy = UrlPolicy(["api.fake.test"])
    validate_connector(doc({"model_id": "m", "location": "us"}), registry, url_policy=policy)
    with pytest.raises(ConfigValidationError, match=r'target url "https://evil\.test/v1" is not added'):
        validate_connector(
            doc({"model_id": "m", "location": "us", "url": "https://evil.test/v1"}),
            registry,
            url_policy=policy,
        )


def test_dotted_and_nested_keys_merge_and_clash() -> None:
    assert unflatten({"a.b": 1, "a": {"c": 2}}) == ({"a": {"b": 1, "c": 2}}, [])
    _, errors = unflatten({"a": 1, "a.b": 2})
    assert errors and errors[0].path == "a.b"


def test_descriptor_export_matches_elasticsearch_shape(registry) -> None:
    desc = service_descriptor(registry.get("fake"))
    assert desc["service"] == "fake" and desc["name"] == "Fake Service"
    assert desc["task_types"] == ["chat_completion", "text_embedding"]
    assert desc["configurations"]["rate_limit.requests_per_minute"] == {
        "description": "Minimize the number of rate limit errors.",
        "label": "Rate Limit",
        "required": False,
        "sensitive": False,
        "updatable": False,
        "type": "int",
        "supported_task_types": ["chat_completion", "text_embedding"],
    }
    assert desc["configurations"]["api_key"]["sensitive"] is True
    assert desc["configurations"]["api_key"]["updatable"] is True
    assert desc["configurations"]["location"]["supported_task_types"] == ["chat_completion"]
    assert desc["configurations"]["url"]["default_value"] == "https://api.fake.test/v1"
    assert desc["configurations"]["model_id"]["required"] is True


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    [
        "model_id",
        "location",
        "url",
        "rate_limit.requests_per_minute",
        "rate_limit",
        "dimensions",
        "x.y",
        "a..b",
        ".",
        "",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=JSON)
def test_arbitrary_json_only_ever_gives_validation_errors(registry, document: Any) -> None:
    with contextlib.suppress(ConfigValidationError):
        validate_connector(document, registry)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider_config=st.dictionaries(KEYS, JSON, max_size=6),
    secrets=st.dictionaries(
        st.sampled_from(["api_key", "entra_id", "service_account_json", "x.y"]), JSON, max_size=3
    ),
    task=st.sampled_from(["chat_completion", "text_embedding", "rerank", ""]),
    task_config=JSON,
)
def test_arbitrary_settings_only_ever_give_validation_errors(
    registry, provider_config, secrets, task, task_config
) -> None:
    d = doc(provider_config, secrets=secrets, task=task)
    d["config"]["taskTypeConfig"] = task_config
    try:
        validate_connector(d, registry)
    except ConfigValidationError as exc:
        for value in secrets.values():
            if isinstance(value, str) and len(value) >= 8:
                assert value not in str(exc)
