"""License levels (Kibana's license_state.ts) and the audit event shape (audit_events.ts)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

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


# ---------------------------------------------------------------------------------------------
# When lines reach the file


def actions(path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["event"]["action"] for line in path.read_text().splitlines()]


async def test_deferred_lines_are_written_by_a_worker_within_the_flush_interval(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, flush_interval=0.1)
    audit.log("connector_execute", connector_id="x", defer=True)
    audit.log("connector_get", connector_id="x", defer=True)
    assert actions(path) == []  # nothing written on the caller's path
    for _ in range(100):
        await asyncio.sleep(0.05)
        if actions(path):
            break
    assert actions(path) == ["connector_execute", "connector_get"]


async def test_an_immediate_line_writes_the_buffered_ones_first_in_order(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, flush_interval=60)
    audit.log("connector_execute", connector_id="x", defer=True)
    audit.log("connector_delete", connector_id="x", outcome="unknown", required=True)
    assert actions(path) == ["connector_execute", "connector_delete"]


async def test_a_full_buffer_close_and_flush_write_everything(tmp_path):
    path = tmp_path / "audit.log"
    audit = AuditLog(path, flush_interval=60, max_pending=3)
    for _ in range(3):
        audit.log("connector_execute", connector_id="x", defer=True)
    assert len(actions(path)) == 3
    audit.log("connector_find", connector_id="x", defer=True)
    audit.flush()
    audit.log("connector_get", connector_id="x", defer=True)
    audit.close()
    assert actions(path)[3:] == ["connector_find", "connector_get"]


def test_without_an_event_loop_or_with_interval_0_lines_are_written_at_once(tmp_path):
    path = tmp_path / "audit.log"
    AuditLog(path, flush_interval=60).log("connector_execute", connector_id="x", defer=True)
    assert actions(path) == ["connector_execute"]
    path2 = tmp_path / "audit2.log"

    async def logged() -> None:
        AuditLog(path2, flush_interval=0).log("connector_execute", connector_id="x", defer=True)

    asyncio.run(logged())
    assert actions(path2) == ["connector_execute"]


def test_buffered_lines_survive_an_exit_without_close(tmp_path):
    # A host application that never closes its service still gets every line at interpreter exit.
    path = tmp_path / "audit.log"
    code = (
        "import asyncio, pathlib\n"
        "from ai_connector.host.audit import AuditLog\n"
        f"audit = AuditLog(pathlib.Path({str(path)!r}), flush_interval=3600)\n"
        "async def main():\n"
        "    for _ in range(5):\n"
        "        audit.log('connector_execute', connector_id='x', defer=True)\n"
        "asyncio.run(main())\n"
        "assert not pathlib.Path(audit.path).exists()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert actions(path) == ["connector_execute"] * 5
