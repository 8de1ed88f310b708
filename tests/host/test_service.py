"""The connector service behaves as Kibana's actions framework does for the `.inference` type:
whole response bodies (an extra field, such as a secret, fails), every refusal with Kibana's text,
Save & test kept beside the connector, `_execute`'s shapes, and no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from host_helpers import CANARY, KEY, OTHER_KEY, body, connector_response, stored_config
from sqlalchemy import text

from ai_connector.errors import HostNotAllowedError
from ai_connector.host.errors import (
    BadRequestError,
    ConflictError,
    DecryptionError,
    ForbiddenError,
    HostError,
    NotFoundError,
    SettingsError,
)
from ai_connector.host.license import LicenseState
from ai_connector.host.service import ConnectorService, SyncConnectorService
from ai_connector.plugin import AuthenticationError as ProviderAuthError
from ai_connector.testing.fakeserver import FakeResponse
from ai_connector.types import FailureKind

HELLO = {"body": {"messages": [{"role": "user", "content": "Hello world"}]}}


def audit_lines(service: ConnectorService) -> list[dict[str, Any]]:
    service.audit.flush()  # execute/get/list lines wait in a buffer (at most audit_flush_interval)
    path = service.settings.audit_log_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_no_canary(*values: Any) -> None:
    for value in values:
        assert CANARY not in json.dumps(value, default=str)


async def reopen(service: ConnectorService, **changes: Any) -> ConnectorService:
    """The same data directory and registry with other settings (another host start)."""
    license_state = changes.pop("license_state", None)
    return await ConnectorService.open(
        service.settings.replace(**changes), registry=service.registry, license_state=license_state
    )


# ---------------------------------------------------------------------------------------------
# create / get / list


async def test_create_returns_kibanas_connector_object_and_never_a_secret(service, fake_server):
    created = await service.create(body(fake_server.url), connector_id="c1", user="alice")
    expected = connector_response("c1", "My fake", stored_config(fake_server.url))
    assert created == expected
    assert await service.get("c1") == expected
    listed = await service.list()
    assert listed == [
        {
            "id": "c1",
            "name": "My fake",
            "config": stored_config(fake_server.url),
            "connector_type_id": ".inference",
            "is_preconfigured": False,
            "is_deprecated": False,
            "referenced_by_count": 0,
            "is_missing_secrets": False,
            "is_system_action": False,
            "is_connector_type_deprecated": False,
        }
    ]
    assert_no_canary(created, listed)


async def test_create_without_an_id_generates_one_and_an_inference_id(service, fake_server):
    b = body(fake_server.url)
    del b["config"]["inferenceId"]
    del b["connector_type_id"]  # the Python API defaults it
    created = await service.create(b)
    assert len(created["id"]) == 36
    assert created["config"]["inferenceId"].startswith("fake-chat_completion-")


async def test_create_with_an_existing_id_is_409_and_the_first_is_unchanged(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    with pytest.raises(ConflictError) as info:
        await service.create(body(fake_server.url, name="Impostor"), connector_id="c1")
    assert info.value.status_code == 409
    assert info.value.to_dict() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "Saved object [action/c1] conflict",
    }
    assert (await service.get("c1"))["name"] == "My fake"


async def test_validation_reports_every_field_error_at_once(service, fake_server):
    bad = body(fake_server.url)
    del bad["config"]["providerConfig"]["model_id"]
    bad["config"]["providerConfig"]["url"] = "not a url"
    bad["secrets"]["providerSecrets"] = {}
    with pytest.raises(BadRequestError) as info:
        await service.create(bad)
    err = info.value
    assert err.status_code == 400
    assert err.message.startswith("error validating connector type config: ")
    assert {e.path for e in err.errors} == {
        "config.providerConfig.model_id",
        "config.providerConfig.url",
        "secrets.providerSecrets.api_key",
    }
    assert "[secrets.providerSecrets.api_key]: API Key is required" in err.message
    assert await service.list() == []


async def test_a_secrets_only_problem_says_secrets(service, fake_server):
    bad = body(fake_server.url)
    bad["secrets"]["providerSecrets"] = {"api_key": CANARY, "extra": "x"}
    with pytest.raises(BadRequestError) as info:
        await service.create(bad)
    assert info.value.message.startswith("error validating connector type secrets: ")
    assert CANARY not in info.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"connector_type_id": ".gen-ai"}, 'Action type ".gen-ai" is not registered.'),
        ({"unexpected": 1}, "'unexpected' is not a known field here"),
        (
            {"config": {"provider": "nope", "taskType": "chat_completion"}},
            "API Provider is not supported: nope",
        ),
        ({"config": {"provider": "fake", "taskType": "rerank"}}, "Task type rerank is not supported by Fake"),
    ],
)
async def test_bad_bodies_are_400(service, fake_server, change, message):
    with pytest.raises(BadRequestError, match=message):
        await service.create({**body(fake_server.url), **change})


async def test_allowed_hosts_is_checked_at_save(service, fake_server):
    strict = await reopen(service, allowed_hosts=["api.example.com"])
    try:
        with pytest.raises(BadRequestError) as info:
            await strict.create(body(fake_server.url))
        assert HostNotAllowedError.message_for(fake_server.url) in info.value.message
        assert fake_server.requests == []
    finally:
        await strict.aclose()
    exact = await reopen(service, allowed_hosts=["127.0.0.1"])
    try:
        assert (await exact.create(body(fake_server.url), connector_id="ok"))["id"] == "ok"
    finally:
        await exact.aclose()


async def test_get_of_an_unknown_connector_is_404(service):
    with pytest.raises(NotFoundError) as info:
        await service.get("missing")
    assert info.value.to_dict() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/missing] not found",
    }


async def test_list_is_sorted_by_name(service, fake_server):
    for cid, name in (("a", "beta"), ("b", "Alpha"), ("c", "gamma")):
        await service.create(body(fake_server.url, name=name, inferenceId=f"i-{cid}"), connector_id=cid)
    assert [c["name"] for c in await service.list()] == ["Alpha", "beta", "gamma"]


# ---------------------------------------------------------------------------------------------
# License and enabled types


@pytest.mark.parametrize("level", ["basic", "gold", "platinum"])
async def test_licenses_below_enterprise_refuse_create_test_and_execute(service, fake_server, level):
    await service.create(body(fake_server.url), connector_id="c1")
    gated = await reopen(service, license=level)
    text_ = (
        f"Action type .inference is disabled because your {level} license does not support it. "
        "Please upgrade your license."
    )
    try:
        for call in (
            lambda: gated.create(body(fake_server.url), connector_id="c2"),
            lambda: gated.update(
                "c1", {k: v for k, v in body(fake_server.url).items() if k != "connector_type_id"}
            ),
            lambda: gated.test("c1"),
            lambda: gated.test(body=body(fake_server.url)),
            lambda: gated.execute("c1", "unified_completion", HELLO),
        ):
            with pytest.raises(ForbiddenError) as info:
                await call()
            assert info.value.status_code == 403 and info.value.message == text_
            assert info.value.reason == "license_invalid"
        with pytest.raises(ForbiddenError, match="license does not support it"):
            await anext(gated.stream("c1", HELLO))
        # Reading and deleting stay allowed, as in Kibana.
        assert (await gated.get("c1"))["id"] == "c1"
        assert gated.connector_types() == [
            {
                "id": ".inference",
                "name": "AI Connector",
                "enabled": False,
                "enabled_in_config": True,
                "enabled_in_license": False,
                "minimum_license_required": "enterprise",
                "supported_feature_ids": [
                    "generativeAIForSecurity",
                    "generativeAIForObservability",
                    "generativeAIForSearchPlayground",
                ],
                "is_system_action_type": False,
                "is_deprecated": False,
            }
        ]
        assert fake_server.requests == []
        failures = [e for e in audit_lines(gated) if e["event"]["outcome"] == "failure"]
        assert failures and all(e["error"]["code"] == "ForbiddenError" for e in failures)
    finally:
        await gated.aclose()


@pytest.mark.parametrize("level", ["enterprise", "trial"])
async def test_enterprise_and_trial_allow_the_type(service, fake_server, level):
    host = await reopen(service, license=level)
    try:
        await host.create(body(fake_server.url), connector_id="c1")
        assert (await host.execute("c1", "unified_completion", HELLO))["status"] == "ok"
        assert host.connector_types()[0]["enabled"] is True
    finally:
        await host.aclose()


@pytest.mark.parametrize(
    ("state", "message", "reason"),
    [
        (
            LicenseState("enterprise", "expired"),
            "Action type .inference is disabled because your enterprise license has expired.",
            "license_expired",
        ),
        (
            LicenseState(None, "unavailable"),
            "Action type .inference is disabled because license information is not available at this time.",
            "license_unavailable",
        ),
    ],
)
async def test_expired_and_unknown_licenses_fail_closed(service, fake_server, state, message, reason):
    host = await reopen(service, license_state=state)
    try:
        with pytest.raises(ForbiddenError) as info:
            await host.create(body(fake_server.url))
        assert (info.value.message, info.value.reason) == (message, reason)
        assert host.connector_types()[0]["enabled_in_license"] is False
    finally:
        await host.aclose()


async def test_enabled_connector_types_gate_the_type_and_its_services(service, fake_server):
    cases = (([".inference"], True), (["fake"], True), (["openai"], False), (["*"], True))
    for n, (enabled, allowed) in enumerate(cases):
        host = await reopen(service, enabled_connector_types=enabled)
        try:
            if allowed:
                created = await host.create(body(fake_server.url, inferenceId=f"i-{n}"))
                await host.delete(created["id"])
            else:
                with pytest.raises(ForbiddenError) as info:
                    await host.create(body(fake_server.url))
                assert info.value.message == (
                    'action type ".inference" (service "fake") is not enabled in the ai-connector config '
                    "enabled_connector_types"
                )
                assert info.value.reason == "config"
        finally:
            await host.aclose()


# ---------------------------------------------------------------------------------------------
# Provider hooks


async def test_the_save_hook_runs_before_storing_and_its_failure_aborts_the_save(
    service, fake_server, plugin
):
    await service.create(body(fake_server.url), connector_id="c1")
    assert plugin.hook_calls == [("on_save", "c1", False)]
    with pytest.raises(BadRequestError) as info:
        await service.create(
            body(fake_server.url, model_id="hook-fails", inferenceId="dup"), connector_id="c2"
        )
    assert info.value.message == "Inference with id dup and task type chat_completion already exists."
    with pytest.raises(NotFoundError):
        await service.get("c2")


async def test_a_failing_delete_hook_is_logged_not_fatal(service, fake_server, plugin, caplog):
    await service.create(body(fake_server.url, model_id="delete-fails"), connector_id="c1")
    await service.delete("c1")
    assert ("on_delete", "c1", None) in plugin.hook_calls
    with pytest.raises(NotFoundError):
        await service.get("c1")
    assert "delete hook failed" in caplog.text
    assert CANARY not in caplog.text  # the hook's error echoed the key; the log has it masked


# ---------------------------------------------------------------------------------------------
# update / delete


def put_body(url: str, **kw: Any) -> dict[str, Any]:
    b = body(url, **kw)
    del b["connector_type_id"]
    return b


async def test_update_replaces_name_config_and_secrets(service, fake_server, plugin):
    await service.create(body(fake_server.url), connector_id="c1")
    updated = await service.update("c1", put_body(fake_server.url, name="Renamed", model_id="m2"), user="bob")
    assert updated == connector_response("c1", "Renamed", stored_config(fake_server.url, model_id="m2"))
    assert plugin.hook_calls[-1] == ("on_save", "c1", True)
    assert (await service.details("c1"))["version"] == 2


async def test_update_keeps_the_inference_id_when_the_body_omits_it(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    b = put_body(fake_server.url)
    del b["config"]["inferenceId"]
    assert (await service.update("c1", b))["config"]["inferenceId"] == "fake-endpoint-1"


async def test_update_needs_the_secrets_again(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    b = put_body(fake_server.url)
    del b["secrets"]
    with pytest.raises(BadRequestError, match=r"\[secrets.providerSecrets.api_key\]: API Key is required"):
        await service.update("c1", b)
    assert (await service.get("c1"))["is_missing_secrets"] is False  # never silently blanked


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("provider", "openai", "Service"),
        ("taskType", "text_embedding", "Task type"),
        ("inferenceId", "x", "Inference"),
    ],
)
async def test_provider_task_type_and_endpoint_are_fixed(service, fake_server, field, value, label):
    await service.create(body(fake_server.url), connector_id="c1")
    b = put_body(fake_server.url)
    b["config"][field] = value
    with pytest.raises(BadRequestError) as info:
        await service.update("c1", b)
    assert f"[config.{field}]: {label}" in info.value.message
    assert "cannot be changed" in info.value.message


async def test_update_refusals(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    with pytest.raises(NotFoundError):
        await service.update("nope", put_body(fake_server.url))
    with pytest.raises(BadRequestError, match=r"\[connector_type_id\]: connector_type_id cannot be changed"):
        await service.update("c1", body(fake_server.url))
    with pytest.raises(ConflictError):
        await service.update("c1", put_body(fake_server.url), expected_version=7)
    await service.update("c1", put_body(fake_server.url), expected_version=1)
    with pytest.raises(ConflictError):  # read at version 1, someone else already wrote version 2
        await service.update("c1", put_body(fake_server.url, name="late"), expected_version=1)
    assert (await service.get("c1"))["name"] == "My fake"


async def test_delete_then_delete_again(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    assert await service.delete("c1") is None  # the API answers 204
    with pytest.raises(NotFoundError):
        await service.delete("c1")
    assert await service.list() == []


# ---------------------------------------------------------------------------------------------
# Save & test


async def test_save_and_test_keeps_the_result_with_the_connector(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    result = await service.test("c1", user="alice")
    assert result.ok and result.failure is None and result.message == "Connector test succeeded"
    assert fake_server.last.json()["messages"] == [
        {"role": "user", "content": "Hello world"}
    ]  # Kibana's input
    details = await service.details("c1")
    assert details["last_test"]["status"] == "succeeded"
    assert details["last_test"]["message"] == "Connector test succeeded"
    assert details["last_test"]["tested_at"].endswith("Z")


async def test_a_failed_test_is_a_result_not_an_exception_and_hides_the_key(service, fake_server):
    wrong = "sk-wrong-canary-0f1e2d3c4b5a"
    b = body(fake_server.url)
    b["secrets"]["providerSecrets"]["api_key"] = wrong
    await service.create(b, connector_id="c1")
    result = await service.test("c1")
    assert not result.ok
    assert result.failure is FailureKind.CREDENTIALS and result.status_code == 401
    assert wrong not in result.message and "Incorrect API key provided" in result.message
    assert (await service.details("c1"))["last_test"]["failure"] == "credentials"
    assert wrong not in service.settings.audit_log_path.read_text()


async def test_an_unsaved_body_is_validated_like_a_save(service, fake_server):
    assert (await service.test(body=body(fake_server.url))).ok
    assert await service.list() == []
    with pytest.raises(BadRequestError, match="API Key is required"):
        await service.test(body={**body(fake_server.url), "secrets": {}})
    with pytest.raises(BadRequestError):
        await service.test()


async def test_a_saved_connector_whose_host_is_no_longer_allowed_fails_its_test(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    strict = await reopen(service, allowed_hosts=["api.example.com"])
    try:
        result = await strict.test("c1")
        assert result.failure is FailureKind.HOST_NOT_ALLOWED and not result.ok
        with pytest.raises(BadRequestError, match="AI_CONNECTOR_ALLOWED_HOSTS"):
            await strict.test(body=body(fake_server.url))
        assert (await strict.execute("c1", "unified_completion", HELLO))["errorSource"] == "user"
        with pytest.raises(HostNotAllowedError):
            await anext(strict.stream("c1", HELLO))
    finally:
        await strict.aclose()
    assert fake_server.requests == []


# ---------------------------------------------------------------------------------------------
# execute / stream


async def test_execute_ok_is_kibanas_shape(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    out = await service.execute("c1", "unified_completion", HELLO, user="alice")
    assert set(out) == {"status", "connector_id", "data"}
    assert (out["status"], out["connector_id"]) == ("ok", "c1")
    assert out["data"]["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello world", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    await service.create(body(fake_server.url, task="text_embedding", inferenceId="e"), connector_id="e1")
    assert await service.execute("e1", "text_embedding", {"input": "hi", "inputType": "ingest"}) == {
        "status": "ok",
        "connector_id": "e1",
        "data": [{"embedding": [0.25, -0.5]}],
    }


async def test_execute_error_shapes(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    assert await service.execute("c1", None, None) == {
        "status": "error",
        "connector_id": "c1",
        "message": (
            "error validating action params: [subAction]: expected value of type [string] but got [undefined]"
        ),
        "retry": False,
        "errorSource": "user",  # Kibana's validateAction
    }
    assert await service.execute("c1", "invalidAction", {}) == {
        "status": "error",
        "connector_id": "c1",
        "message": "an error occurred while running the action",
        "service_message": (
            'Sub action "invalidAction" is not registered. Connector id: c1. Connector name: AI Connector. '
            "Connector type: .inference"
        ),
        "retry": True,
        "errorSource": "framework",
    }
    params_error = await service.execute("c1", "unified_completion", {})
    assert params_error == {  # Kibana's sub-action framework: the schema's refusal is the user's
        "status": "error",
        "connector_id": "c1",
        "message": "an error occurred while running the action",
        "service_message": params_error["service_message"],
        "retry": True,
        "errorSource": "user",
    }
    assert params_error["service_message"].startswith("Request validation failed (Error: [body]")
    wrong_task = await service.execute("c1", "text_embedding", {"input": "x", "inputType": "ingest"})
    assert (wrong_task["retry"], wrong_task["errorSource"]) == (True, "user")
    assert 'Sub action "text_embedding" needs a text_embedding connector' in wrong_task["service_message"]
    with pytest.raises(NotFoundError):
        await service.execute("missing", "unified_completion", HELLO)


@pytest.mark.parametrize(
    ("status", "retry", "source"),
    [
        (401, True, "user"),  # Kibana's action executor: every thrown error is retried
        (400, True, "user"),
        (429, True, "user"),
        (500, True, "framework"),
        (503, True, "framework"),
    ],
)
async def test_provider_failures_map_to_retry_and_error_source(service, fake_server, status, retry, source):
    host = await reopen(service, max_attempts=1)
    try:
        fake_server.add(
            "POST", "/chat", FakeResponse.json({"error": {"message": f"boom {CANARY}"}}, status=status)
        )
        await host.create(body(fake_server.url), connector_id="c1")
        out = await host.execute("c1", "unified_completion", HELLO)
        assert out == {
            "status": "error",
            "connector_id": "c1",
            "message": "an error occurred while running the action",
            "service_message": out["service_message"],
            "retry": retry,
            "errorSource": source,
        }
        assert (
            f"Inference endpoint [fake-endpoint-1] returned status code {status}: " in out["service_message"]
        )
        assert CANARY not in out["service_message"]  # the provider echoed the key; redacted
        assert CANARY not in host.settings.audit_log_path.read_text()
    finally:
        await host.aclose()


async def test_stream_yields_openai_chunks_and_raises_typed_errors(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    chunks = [c async for c in service.stream("c1", HELLO)]
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"] * len(chunks)
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello world"
    )
    with pytest.raises(NotFoundError):
        await anext(service.stream("missing", HELLO))
    with pytest.raises(BadRequestError, match=r"Request validation failed \(Error: \[body\]"):
        await anext(service.stream("c1", {}))
    b = body(fake_server.url, inferenceId="x")
    b["secrets"]["providerSecrets"]["api_key"] = "sk-other-key-abcdef123456"
    await service.create(b, connector_id="c2")
    with pytest.raises(ProviderAuthError):
        await anext(service.stream("c2", HELLO))
    outcomes = [
        e["event"]["outcome"] for e in audit_lines(service) if e["event"]["action"] == "connector_execute"
    ]
    assert outcomes == ["success", "failure", "failure", "failure"]


async def test_execute_of_the_stream_sub_action_collects_the_chunks(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    out = await service.execute("c1", "unified_completion_stream", HELLO)
    assert out["status"] == "ok" and out["data"][-1]["usage"]["total_tokens"] == 5


# ---------------------------------------------------------------------------------------------
# Secrets that cannot be used


async def test_a_host_with_another_key_reports_missing_secrets_and_typed_errors(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    other = await reopen(service, encryption_key=OTHER_KEY)
    try:
        assert other.unknown_key_ids == {service.cipher.primary_key_id: 1}  # reported at startup
        got = await other.get("c1")
        assert got == connector_response("c1", "My fake", stored_config(fake_server.url), missing=True)
        assert (await other.list())[0]["is_missing_secrets"] is True
        out = await other.execute("c1", "unified_completion", HELLO)
        assert out == {
            "status": "error",
            "connector_id": "c1",
            "message": "an error occurred while running the action",
            "service_message": out["service_message"],
            "retry": True,
            "errorSource": "framework",
        }
        assert (
            "Add the previous encryption key to AI_CONNECTOR_DECRYPTION_ONLY_KEYS" in out["service_message"]
        )
        result = await other.test("c1")
        assert not result.ok and result.failure is FailureKind.CONFIG
        assert "AI_CONNECTOR_DECRYPTION_ONLY_KEYS" in result.message
        with pytest.raises(DecryptionError):
            await anext(other.stream("c1", HELLO))
        assert fake_server.requests == []  # never called with an empty key
    finally:
        await other.aclose()


async def test_rotation_with_the_old_key_in_decryption_only_keys(service, fake_server):
    for i in range(3):
        await service.create(body(fake_server.url, inferenceId=f"i{i}"), connector_id=f"c{i}")
    old_key = service.cipher  # the generated key file's key
    key_file = service.settings.key_file_path.read_text().strip()
    rotated = await reopen(service, encryption_key=KEY, decryption_only_keys=[key_file])
    try:
        assert rotated.unknown_key_ids == {}
        assert (await rotated.execute("c0", "unified_completion", HELLO))[
            "status"
        ] == "ok"  # reads still work
        assert await rotated.rotate_key() == {"total": 3, "successful": 3, "failed": 0}
    finally:
        await rotated.aclose()
    primary_only = await reopen(service, encryption_key=KEY)
    try:
        assert primary_only.unknown_key_ids == {}
        assert all(not c["is_missing_secrets"] for c in await primary_only.list())
        assert (await primary_only.execute("c2", "unified_completion", HELLO))["status"] == "ok"
        assert old_key.primary_key_id not in primary_only.store.key_ids_in_use()
    finally:
        await primary_only.aclose()


async def test_rotation_counts_undecryptable_connectors_as_failed_and_goes_on(service, fake_server):
    await service.create(body(fake_server.url, inferenceId="a"), connector_id="a")
    stranger = await reopen(service, encryption_key=OTHER_KEY)
    try:
        await stranger.create(body(fake_server.url, inferenceId="b"), connector_id="b")
    finally:
        await stranger.aclose()
    assert await service.rotate_key(batch_size=1) == {"total": 2, "successful": 1, "failed": 1}


async def test_tampering_with_the_stored_config_is_detected(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    evil = stored_config("http://evil.example.com")
    from ai_connector.host.crypto import canonical_json

    with service.store.engine.begin() as conn:
        conn.execute(text("UPDATE connectors SET config = :c WHERE id = 'c1'"), {"c": canonical_json(evil)})
    assert (await service.get("c1"))["is_missing_secrets"] is True
    out = await service.execute("c1", "unified_completion", HELLO)
    assert "integrity check failed" in out["service_message"]
    assert fake_server.requests == []  # the key never went to the tampered URL


async def test_a_connector_stored_without_secrets_says_so(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1")
    with service.store.engine.begin() as conn:
        conn.execute(text("UPDATE connectors SET secrets = NULL WHERE id = 'c1'"))
    assert (await service.get("c1"))["is_missing_secrets"] is True
    out = await service.execute("c1", "unified_completion", HELLO)
    assert (out["errorSource"], out["retry"]) == ("user", True)
    assert "is missing its secrets" in out["service_message"]
    assert await service.rotate_key() == {"total": 0, "successful": 0, "failed": 0}


# ---------------------------------------------------------------------------------------------
# Preconfigured connectors


def preconfigured(url: str, *, expose: bool = False) -> dict[str, Any]:
    return {
        "name": "Shared fake",
        "provider": "fake",
        "taskType": "chat_completion",
        "providerConfig": {"url": url, "model_id": "shared"},
        "providerSecrets": {"api_key": CANARY},
        "exposeConfig": expose,
    }


async def test_preconfigured_connectors_are_read_only_and_hide_their_config(service, fake_server):
    host = await reopen(
        service,
        preconfigured={
            "shared": preconfigured(fake_server.url),
            "open": preconfigured(fake_server.url, expose=True),
        },
    )
    try:
        assert await host.get("shared") == {
            "id": "shared",
            "name": "Shared fake",
            "connector_type_id": ".inference",
            "is_preconfigured": True,
            "is_deprecated": False,
            "is_system_action": False,
            "is_connector_type_deprecated": False,
        }
        exposed = await host.get("open")
        assert exposed["config"] == {
            "provider": "fake",
            "taskType": "chat_completion",
            "inferenceId": "open",
            "providerConfig": {"url": fake_server.url, "model_id": "shared"},
            "taskTypeConfig": {},
        }
        listed = await host.list()
        assert [c["id"] for c in listed] == ["open", "shared"]
        assert listed[1] == {
            "id": "shared",
            "name": "Shared fake",
            "connector_type_id": ".inference",
            "is_preconfigured": True,
            "is_deprecated": False,
            "referenced_by_count": 0,
            "is_system_action": False,
            "is_connector_type_deprecated": False,
        }
        with pytest.raises(
            BadRequestError, match=r"^This shared already exists in a preconfigured action\.$"
        ):
            await host.create(body(fake_server.url), connector_id="shared")
        with pytest.raises(BadRequestError, match=r"^Preconfigured action shared can not be updated\.$"):
            await host.update("shared", put_body(fake_server.url))
        with pytest.raises(
            BadRequestError, match=r"^Preconfigured action shared is not allowed to delete\.$"
        ):
            await host.delete("shared")
        assert (await host.execute("shared", "unified_completion", HELLO))["status"] == "ok"
        assert (await host.test("shared")).ok
        assert_no_canary(listed, exposed)
    finally:
        await host.aclose()


async def test_an_invalid_preconfigured_connector_is_a_startup_error(service, fake_server):
    bad = preconfigured(fake_server.url)
    del bad["providerSecrets"]
    with pytest.raises(SettingsError, match=r"\[preconfigured.shared\] .* is invalid: .*API Key is required"):
        await reopen(service, preconfigured={"shared": bad})


# ---------------------------------------------------------------------------------------------
# Audit


async def test_audit_lines_follow_kibanas_three_phases(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1", user="alice")
    with pytest.raises(ConflictError):
        await service.create(body(fake_server.url), connector_id="c1", user="mallory")
    await service.delete("c1", user="alice")
    lines = audit_lines(service)
    for line in lines:
        assert line["@timestamp"].endswith("Z")
        del line["@timestamp"]
    obj = {
        "kibana": {"saved_object": {"type": "action", "id": "c1"}},
        "connector": {"id": "c1", "type": ".inference"},
    }
    assert lines == [
        {
            "message": "User is creating connector [id=c1]",
            "event": {
                "action": "connector_create",
                "category": ["database"],
                "type": ["creation"],
                "outcome": "unknown",
            },
            **obj,
            "user": {"name": "alice"},
        },
        {
            "message": "User has created connector [id=c1]",
            "event": {
                "action": "connector_create",
                "category": ["database"],
                "type": ["creation"],
                "outcome": "success",
            },
            **obj,
            "user": {"name": "alice"},
        },
        {
            "message": "Failed attempt to create connector [id=c1]",
            "event": {
                "action": "connector_create",
                "category": ["database"],
                "type": ["creation"],
                "outcome": "failure",
            },
            **obj,
            "user": {"name": "mallory"},
            "error": {"code": "ConflictError", "message": "Saved object [action/c1] conflict"},
        },
        {
            "message": "User is deleting connector [id=c1]",
            "event": {
                "action": "connector_delete",
                "category": ["database"],
                "type": ["deletion"],
                "outcome": "unknown",
            },
            **obj,
            "user": {"name": "alice"},
        },
        {
            "message": "User has deleted connector [id=c1]",
            "event": {
                "action": "connector_delete",
                "category": ["database"],
                "type": ["deletion"],
                "outcome": "success",
            },
            **obj,
            "user": {"name": "alice"},
        },
    ]


async def test_no_secret_reaches_any_file_in_the_data_directory(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1", user="alice")
    await service.get("c1")
    await service.list()
    await service.test("c1")
    await service.execute("c1", "unified_completion", HELLO)
    await service.update("c1", put_body(fake_server.url, name="n2"))
    fake_server.add(
        "POST", "/chat", FakeResponse.json({"error": {"message": f"bad key {CANARY}"}}, status=401)
    )
    await service.execute("c1", "unified_completion", HELLO)
    await service.test("c1")
    await service.test(body=body(fake_server.url, model_id="hook-fails"))
    with pytest.raises(BadRequestError):
        await service.create(body(fake_server.url, model_id="hook-fails"), connector_id="c2")
    await service.rotate_key()
    await service.aclose()
    files = [p for p in Path(service.settings.home).rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"connectors.db", "audit.log", "encryption.key"}
    key = service.settings.key_file_path.read_text().strip()
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path
        if path.name != "encryption.key":
            assert key.encode() not in data, path
    events = [e["event"]["action"] for e in audit_lines(service)]
    assert {
        "connector_create",
        "connector_get",
        "connector_find",
        "connector_update",
        "connector_execute",
        "connector_test",
    } <= set(events)


async def test_execute_lines_wait_in_the_buffer_and_closing_writes_them(service, fake_server):
    await service.create(body(fake_server.url), connector_id="c1", user="alice")
    await service.execute("c1", "unified_completion", HELLO, user="bob")
    path = service.settings.audit_log_path
    written = [json.loads(line)["event"]["action"] for line in path.read_text().splitlines()]
    assert written == ["connector_create", "connector_create"]  # no write on the execute's path
    await service.aclose()
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert written[-1]["event"] == {
        "action": "connector_execute",
        "category": ["database"],
        "outcome": "success",
    }
    assert written[-1]["user"] == {"name": "bob"}


async def test_mutations_fail_closed_when_the_audit_log_cannot_be_written(service, fake_server, tmp_path):
    blocked = tmp_path / "audit-is-a-dir"
    blocked.mkdir()
    host = await reopen(service, audit_log_path=blocked)
    try:
        with pytest.raises(HostError, match=r"audit log .* cannot be written"):
            await host.create(body(fake_server.url), connector_id="c1")
        with pytest.raises(NotFoundError):
            await host.get("c1")  # reads go on (with a warning)
    finally:
        await host.aclose()


# ---------------------------------------------------------------------------------------------
# The blocking facade


def test_the_sync_service_has_the_same_methods(settings, registry, fake_server):
    with SyncConnectorService.open(settings, registry=registry) as svc:
        created = svc.create(body(fake_server.url), connector_id="c1")
        assert created == connector_response("c1", "My fake", stored_config(fake_server.url))
        assert svc.get("c1") == created
        assert [c["id"] for c in svc.list()] == ["c1"]
        assert svc.test("c1").ok
        assert svc.execute("c1", "unified_completion", HELLO)["status"] == "ok"
        pieces = [c["choices"][0]["delta"].get("content") for c in svc.stream("c1", HELLO) if c["choices"]]
        assert "".join(p for p in pieces if p) == "Hello world"
        stream = svc.stream("c1", HELLO)
        next(stream)
        stream.close()  # early close cancels the upstream call, no error
        assert svc.rotate_key() == {"total": 1, "successful": 1, "failed": 0}
        assert svc.connector_types()[0]["id"] == ".inference"
        svc.update("c1", put_body(fake_server.url, name="n"), expected_version=1)
        svc.delete("c1")
        with pytest.raises(NotFoundError):
            svc.get("c1")
