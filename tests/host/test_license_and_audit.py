"""License levels (Kibana's license_state.ts) and the audit event shape (audit_events.ts)."""

from __future__ import annotations

import json

import pytest

from ai_connector.host.audit import AuditLog
from ai_connector.host.errors import ForbiddenError
from ai_connector.host.license import LicenseState, ensure_type_enabled, is_type_enabled_in_config


@pytest.mark.parametrize(
    ("level", "valid"),
    [("basic", False), ("gold", False), ("platinum", False), ("enterprise", True), ("trial", True)],
)
def test_the_inference_type_needs_enterprise_or_trial(level, valid):
    state = LicenseState(level)
    assert state.enabled_in_license() is valid
    if valid:
        state.ensure()
    else:
        with pytest.raises(ForbiddenError) as info:
            state.ensure()
        assert info.value.message == (
            f"Action type .inference is disabled because your {level} license does not support it. "
            "Please upgrade your license."
        )


def test_lower_types_follow_the_license_order():
    assert LicenseState("gold").check("gold") == "valid"
    assert LicenseState("gold").check("platinum") == "invalid"
    assert LicenseState("basic").check("basic") == "valid"
    assert LicenseState("platinum", "expired").check("basic") == "expired"
    assert LicenseState("unknown-type").check() == "unavailable"


def test_enabled_types_check_config_before_license():
    with pytest.raises(ForbiddenError) as info:
        ensure_type_enabled(["openai"], LicenseState("basic"), "fake")
    assert info.value.reason == "config"
    with pytest.raises(ForbiddenError) as info:
        ensure_type_enabled(["*"], LicenseState("basic"), "fake")
    assert info.value.reason == "license_invalid"
    assert is_type_enabled_in_config([".inference"], "any")
    assert is_type_enabled_in_config(["openai"])  # the type is enabled for some service
    assert not is_type_enabled_in_config([".gen-ai"])


@pytest.mark.parametrize(
    ("action", "outcome", "message", "event_type"),
    [
        ("connector_create", "unknown", "User is creating connector [id=x]", ["creation"]),
        ("connector_create", None, "User has created connector [id=x]", ["creation"]),
        ("connector_get", None, "User has accessed connector [id=x]", ["access"]),
        ("connector_update", "unknown", "User is updating connector [id=x]", ["change"]),
        ("connector_delete", None, "User has deleted connector [id=x]", ["deletion"]),
        ("connector_find", None, "User has accessed connector [id=x]", ["access"]),
        ("connector_execute", None, "User has executed connector [id=x]", None),
        ("connector_test", None, "User has tested connector [id=x]", None),
    ],
)
def test_event_names_messages_and_types_are_kibanas(action, outcome, message, event_type):
    event = AuditLog(None).event(action, connector_id="x", outcome=outcome, user="u")
    assert event["message"] == message
    assert event["event"]["action"] == action
    assert event["event"]["category"] == ["database"]
    assert event["event"].get("type") == event_type
    assert event["event"]["outcome"] == (outcome or "success")
    assert event["kibana"] == {"saved_object": {"type": "action", "id": "x"}}
    assert event["connector"] == {"id": "x", "type": ".inference"}
    assert event["user"] == {"name": "u"}
    assert "error" not in event


def test_a_failure_names_the_error_redacted_and_capped(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path)
    err = RuntimeError("upstream said: Incorrect API key provided: sk-abcdefghijklmnop1234 " + "x" * 2000)
    audit.log("connector_execute", connector_id="x", error=err)
    audit.log("connector_find", error=ValueError("nope"))
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["message"] == "Failed attempt to execute connector [id=x]"
    assert first["event"]["outcome"] == "failure"
    assert first["error"]["code"] == "RuntimeError"
    assert "sk-abcdefghijklmnop1234" not in first["error"]["message"]
    assert first["error"]["message"].endswith("... [truncated]") and len(first["error"]["message"]) < 1100
    assert second["message"] == "Failed attempt to access a connector"
    assert "kibana" not in second and "connector" not in second
