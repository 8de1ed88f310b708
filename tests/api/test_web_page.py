"""The web page's Kibana flow, driven for real: its script runs in Node (a small DOM stand-in)
against a live API server, picks the service, fills Settings and Authentication, and clicks
Save & test; the connector is saved and its test succeeds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from api_fakes import CANARY
from api_helpers import ALL, ALL_KEY, LiveApp

from ai_connector.api import create_app
from ai_connector.api.app import STATIC_DIR

NODE = shutil.which("node")
DRIVER = Path(__file__).with_name("page_driver.js")


@pytest.mark.skipif(NODE is None, reason="needs node to run the page's script")
def test_save_and_test_from_the_web_page(make_settings, registry, server) -> None:
    import httpx

    values = {
        "service": "fake",
        "name": "From the page",
        "fields": {"url": server.url, "model_id": "fake-model", "api_key": CANARY},
    }
    with LiveApp(create_app(settings=make_settings(), registry=registry)) as live:
        out = subprocess.run(
            [NODE, str(DRIVER), str(STATIC_DIR / "index.html"), live.url, ALL_KEY, json.dumps(values)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        page = json.loads(out.stdout)
        listed = httpx.get(f"{live.url}/api/actions/connectors", headers=ALL).json()
    assert page["services"] == ["fake"]
    # Kibana's grouping: Settings = required and not sensitive, Authentication = sensitive,
    # More options = the rest (dimensions applies to text_embedding only, so it is not shown)
    assert page["groups"] == {"settings": ["model_id", "url"], "auth": ["api_key"], "more": []}
    assert page["moreHidden"] is True
    assert page["cwlHidden"] is False  # context window length: chat_completion only
    assert page["keyerr"] == ""
    assert page["result"].startswith("Saved “From the page”; connector test succeeded in "), page["result"]
    assert page["listed"] == [["From the page", "fake", "chat_completion", "Test"]]
    assert [c["name"] for c in listed] == ["From the page"]
    assert server.last.headers["authorization"] == f"Bearer {CANARY}"


@pytest.mark.skipif(NODE is None, reason="needs node to run the page's script")
def test_the_page_reports_a_wrong_key(make_settings, registry, server) -> None:
    values = {"service": "fake", "name": "x", "fields": {}}
    with LiveApp(create_app(settings=make_settings(), registry=registry)) as live:
        out = subprocess.run(
            [NODE, str(DRIVER), str(STATIC_DIR / "index.html"), live.url, "wrong", json.dumps(values)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "keyerr": "unable to authenticate with provided credentials",
        "formHidden": True,
    }
