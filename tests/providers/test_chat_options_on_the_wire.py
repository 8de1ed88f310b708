"""`Provider.chat_options` says which optional chat fields (`user`, `metadata`) a provider carries to
its service; the OpenAI-compatible route refuses the others. Held here both ways against every chat
provider's wire-exact fake: a provider that declares `user` sends the value on the wire (as `user`,
or in its service's own field), and one that does not declare it does not send it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_helpers import fake_connector

from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.testing import FakeServer
from ai_connector.testing.fakes import ProviderFake, provider_fake
from ai_connector.types import TaskType

USER = "user-on-the-wire-7c1e"


def _chat_fakes() -> list[str]:
    out = []
    for provider in default_registry():
        if TaskType.CHAT_COMPLETION not in provider.task_types:
            continue
        try:
            fake = provider_fake(provider.id)
        except LookupError:
            continue
        if fake.serve_chat is not ProviderFake.serve_chat:  # it can script a chat stream
            out.append(provider.id)
    return sorted(out)


CHAT_FAKES = _chat_fakes()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
async def runtime(server: FakeServer) -> Any:
    iam = {"watsonxai": {"iam_url": f"{server.url}/identity/token"}}  # IBM's token exchange, faked too
    async with Runtime(default_registry(), RuntimeSettings(max_attempts=1, provider_settings=iam)) as rt:
        yield rt


def test_the_table_covers_the_providers_that_carry_user() -> None:
    assert {"openai", "anthropic", "amazonbedrock", "googlevertexai", "amazon_sagemaker"} <= set(CHAT_FAKES)


@pytest.mark.parametrize("provider_id", CHAT_FAKES)
async def test_user_reaches_the_wire_exactly_when_declared(
    server: FakeServer, runtime: Runtime, provider_id: str
) -> None:
    server.reset()
    fake = provider_fake(provider_id)(server)
    fake.stream(["Hi"])
    connector = fake_connector(fake, provider_id)
    params = {"body": {"messages": [{"role": "user", "content": "Hi"}], "user": USER}}
    chunks = [chunk async for chunk in runtime.stream(connector, params)]
    assert chunks
    sent = any(USER.encode() in request.body for request in server.requests)
    declared = "user" in default_registry().get(provider_id).chat_options
    assert sent == declared, f"{provider_id}: declares user={declared}, sends it={sent}"
