"""`AI_CONNECTOR_OPENAI_API_PREFIX`: where OpenAI's routes are served, or `off`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from openai_route_helpers import ENCRYPTION_KEY, READ_KEY

from ai_connector.api import create_app
from ai_connector.host.errors import SettingsError
from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings


def settings(home: Path, prefix: str | None) -> HostSettings:
    env = {
        "AI_CONNECTOR_HOME": str(home),
        "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "AI_CONNECTOR_API_KEYS": f"{READ_KEY}:read",
    }
    if prefix is not None:
        env["AI_CONNECTOR_OPENAI_API_PREFIX"] = prefix
    return HostSettings.load(env=env)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "/v1"), ("/openai/v1/", "/openai/v1"), ("off", ""), ("OFF", "")]
)
def test_the_prefix_is_a_url_path_or_off(tmp_path: Path, value: str | None, expected: str) -> None:
    assert settings(tmp_path, value).openai_api_prefix == expected


@pytest.mark.parametrize("value", ["v1", "/v 1", "/v1?x=1"])
def test_a_prefix_that_is_not_a_path_is_refused_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="AI_CONNECTOR_OPENAI_API_PREFIX"):
        settings(tmp_path, value)


async def test_off_serves_no_openai_route(tmp_path: Path) -> None:
    async with await ConnectorService.open(settings(tmp_path, "off")) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/v1/models", headers={"authorization": f"Bearer {READ_KEY}"})
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Not Found",
    }  # not OpenAI's
