"""The provider contract kit: subclass `ProviderContract` in your plugin's tests to prove it.

    from ai_connector.testing.contract import ProviderContract

    class TestContract(ProviderContract):
        provider_id = "echo"

        def connector_settings(self, base_url, task_type):
            return {"model_id": "m", "url": base_url}, {"api_key": self.canary}

        def serve_rejected_credentials(self, server):
            server.add("*", "/.*", FakeResponse.json({"error": "bad key"}, status=401))

It checks the declaration, the schemas against the meta-schema, the task types, that registration
imports no heavy dependency, the ES descriptor export, and that `test()` fails cleanly — with the
right failure kind and without the secret anywhere — on rejected credentials and an unreachable host.
With `fake` set (the provider's `ProviderFake`, see `ai_connector.testing.fakes`), a chat provider's
stream is held to the unified invariant every provider shares: the role first, the text whole, one
finish reason, one usage chunk last, and a stream that breaks off as a typed StreamInterruptedError;
a provider's non-streamed chat call, when it has one, must fold to what its stream folds to.
Tests run their own event loop (`asyncio.run`), so no async pytest plugin is required.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import httpx
import pluggy
import pytest

from ai_connector.context import CallContext
from ai_connector.errors import StreamInterruptedError
from ai_connector.manager import ENTRY_POINT_GROUP, ProviderRegistry, check_provider, default_registry
from ai_connector.runtime.aggregate import ChatAggregator
from ai_connector.testing.fakes import ProviderFake
from ai_connector.types import (
    ChatChunk,
    ChatRequest,
    FailureKind,
    InferenceEndpoint,
    Provider,
    TaskType,
    TestResult,
)
from ai_connector.validation import validate_connector

_T = TypeVar("_T")

__all__ = ["CANARY", "HEAVY_MODULES", "ProviderContract"]

CANARY = "canary-secret-7d41e9b2c6a0f385"
STREAM_PIECES = ("Hello", ", wor", "ld", "! \u00e9\u00e8 \U0001f600", '\n"quoted"')

# Modules a provider must not import while registering (they cost hundreds of ms at host start).
# Rich, Pygments and click too: `ai_connector` keeps httpx from importing its CLI, which used them.
HEAVY_MODULES = (
    "rich",
    "pygments",
    "click",
    "botocore",
    "boto3",
    "google.auth",
    "google.oauth2",
    "googleapiclient",
    "grpc",
    "aiohttp",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "cryptography",
    "openai",
    "anthropic",
    "litellm",
    "requests",
    "numpy",
    "torch",
    "transformers",
    "tiktoken",
)


class ProviderContract:
    """Base class of a provider's contract tests; set `provider_id` and implement the two hooks."""

    provider_id: ClassVar[str]
    canary: ClassVar[str] = CANARY
    fake: ClassVar[type[ProviderFake] | None] = None
    """The provider's fake; set it to hold a chat provider's stream to the unified invariant."""

    # -- what the author provides ----------------------------------------------------------------
    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict[str, Any], dict[str, Any]]:
        """(providerConfig, providerSecrets) aiming a connector at `base_url`, secrets = `self.canary`."""
        raise NotImplementedError

    def serve_rejected_credentials(self, server: Any) -> None:
        """Add routes to the FakeServer answering every request as the provider does for a bad key."""
        raise NotImplementedError

    def host_settings(self, base_url: str) -> dict[str, Any]:
        """The host's settings for this provider (override when the provider reads any)."""
        return {}

    def load_provider(self) -> Provider:
        """The provider under test; by default the one installed under `provider_id`."""
        return default_registry().get(self.provider_id)

    # -- helpers ---------------------------------------------------------------------------------
    def _registry(self, provider: Provider) -> ProviderRegistry:
        return ProviderRegistry({provider.id: provider}, [], pluggy.PluginManager("ai_connector"), {})

    def _call(
        self,
        provider: Provider,
        task: TaskType,
        base_url: str,
        call: Callable[[InferenceEndpoint, CallContext], Awaitable[_T]],
        connector: Any = None,
    ) -> _T:
        """Run `call(endpoint, ctx)` for a connector of `task` aimed at `base_url` (or with the
        (settings, secrets) `connector`), in its own event loop."""
        from ai_connector.http import build_client
        from ai_connector.redaction import Redactor

        settings, secrets = connector or self.connector_settings(base_url, task)
        document = {
            "name": "contract",
            "config": {"provider": provider.id, "taskType": task.value, "providerConfig": settings},
            "secrets": {"providerSecrets": secrets},
        }
        connector = validate_connector(document, self._registry(provider))

        async def go() -> _T:
            async with build_client() as client:
                ctx = CallContext(
                    client=client,
                    provider_id=provider.id,
                    redactor=Redactor(connector.secrets.values_for_redaction()),
                    host_settings=self.host_settings(base_url),
                    timeout=httpx.Timeout(10.0),
                )
                return await asyncio.wait_for(call(connector.endpoint(), ctx), 30)

        return asyncio.run(go())

    def _run_test(self, provider: Provider, task: TaskType, base_url: str) -> TestResult:
        assert provider.test is not None, "a Provider's test is set in __post_init__"
        return self._call(provider, task, base_url, provider.test)

    def _stream(self, provider: Provider, fake: ProviderFake) -> list[ChatChunk]:
        stream = provider.chat_completion_stream
        assert stream is not None, "the contract streams only from a provider of chat_completion"

        async def read(endpoint: InferenceEndpoint, ctx: CallContext) -> list[ChatChunk]:
            request = ChatRequest(messages=({"role": "user", "content": "Say hello"},))
            return [c async for c in stream(endpoint, request, ctx)]

        chat = TaskType.CHAT_COMPLETION
        return self._call(provider, chat, fake.url, read, fake.connector(chat.value))

    def _chat_fake(self) -> tuple[Provider, type[ProviderFake]]:
        provider = self.load_provider()
        if self.fake is None or TaskType.CHAT_COMPLETION not in provider.task_types:
            pytest.skip("no chat completion, or no `fake` to stream from")
        return provider, self.fake

    def _assert_no_canary(self, *texts: Any) -> None:
        for text in texts:
            assert self.canary not in str(text), "the secret leaked into a message, repr or log"

    # -- the contract ----------------------------------------------------------------------------
    def test_declaration_is_valid(self) -> None:
        """The provider loads, its id is the one claimed, and every schema passes the meta-schema."""
        provider = self.load_provider()
        assert provider.id == self.provider_id
        assert provider.name.strip(), "a provider needs a display name"
        assert check_provider(provider) == []

    def test_task_types_are_known_and_served(self) -> None:
        """Every declared task type is a known one with its inference call."""
        provider = self.load_provider()
        assert provider.task_types and provider.task_types <= set(TaskType)
        for task in provider.task_types:
            assert callable(provider.call_for(task)), f"no call for {task.value}"

    def test_descriptor_export(self) -> None:
        """The provider renders as an Elasticsearch `_services` entry with labelled fields."""
        from ai_connector.descriptor import service_descriptor

        provider = self.load_provider()
        desc = service_descriptor(provider)
        assert desc["service"] == provider.id and desc["task_types"]
        for key, entry in desc["configurations"].items():
            assert entry["label"], f"field {key} has no label"
            assert entry["type"] in ("str", "int", "bool", "list", "map")
            assert set(entry["supported_task_types"]) <= set(desc["task_types"])

    def test_registration_imports_nothing_heavy(self) -> None:
        """Loading the entry point and calling the hook imports no SDK (they belong inside calls)."""
        code = textwrap.dedent(
            f"""
            import json, sys
            from importlib.metadata import entry_points
            from ai_connector.provider_files import load_entry_point
            eps = [e for e in entry_points(group={ENTRY_POINT_GROUP!r}) if e.name == {self.provider_id!r}]
            plugin = load_entry_point(eps[0])
            list(plugin.ai_connector_providers() or [])
            heavy = {list(HEAVY_MODULES)!r}
            print(json.dumps(sorted(h for h in heavy if h in sys.modules)))
            """
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert json.loads(out.stdout.strip().splitlines()[-1]) == []

    def test_rejected_credentials_fail_cleanly(self, caplog: pytest.LogCaptureFixture) -> None:
        """Save & test with refused credentials: failed, kind credentials, the secret nowhere."""
        from ai_connector.testing.fakeserver import FakeServer

        provider = self.load_provider()
        caplog.set_level(logging.DEBUG)
        for task in sorted(provider.task_types):
            with FakeServer() as server:
                self.serve_rejected_credentials(server)
                result = self._run_test(provider, task, server.url)
                assert server.requests, f"{task.value}: test() sent no request"
            assert not result.ok, f"{task.value}: test() succeeded with rejected credentials"
            assert result.failure is FailureKind.CREDENTIALS, f"{task.value}: failure was {result.failure}"
            self._assert_no_canary(result.message, repr(result), result.to_dict(), caplog.text)

    def test_unreachable_host_fails_cleanly(self, caplog: pytest.LogCaptureFixture) -> None:
        """Save & test against a closed port: failed as unreachable (or timeout), the secret nowhere."""
        provider = self.load_provider()
        caplog.set_level(logging.DEBUG)
        task = sorted(provider.task_types)[0]
        result = self._run_test(provider, task, "http://127.0.0.1:9")
        assert not result.ok
        assert result.failure in (FailureKind.UNREACHABLE, FailureKind.TIMEOUT), result
        self._assert_no_canary(result.message, repr(result), caplog.text)

    def test_chat_stream_holds_the_unified_invariant(self, caplog: pytest.LogCaptureFixture) -> None:
        """The same text streams as the same unified chunks, whatever the wire: the role first, the
        text whole, exactly one finish reason, one usage chunk and it last; the secret nowhere."""
        provider, fake_cls = self._chat_fake()
        caplog.set_level(logging.DEBUG)
        with fake_cls(api_key=self.canary) as fake:
            fake.stream(STREAM_PIECES, prompt_tokens=5, completion_tokens=7)
            chunks = self._stream(provider, fake)
        assert chunks and chunks[0].role == "assistant", "the first chunk carries the role"
        assert [c.role for c in chunks[1:] if c.role] == [], "only the first chunk carries a role"
        assert "".join(c.content or "" for c in chunks) == "".join(STREAM_PIECES)
        assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"], "one finish reason"
        usage = [c.usage for c in chunks if c.usage is not None]
        assert len(usage) == 1 and chunks[-1].is_usage_only, "one usage chunk, last"
        assert usage[0].to_dict() == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        rendered = [c.to_openai(id="chatcmpl-1", model="m", created=1) for c in chunks]
        assert all(r["object"] == "chat.completion.chunk" for r in rendered) and rendered[-1]["choices"] == []
        self._assert_no_canary(caplog.text)

    def test_a_whole_chat_answer_folds_as_its_stream(self, caplog: pytest.LogCaptureFixture) -> None:
        """A provider with a non-streamed chat call (`chat_completion`): the chunks of the whole
        answer, folded as the host folds a stream, give what the stream of the same text gives."""
        provider, fake_cls = self._chat_fake()
        whole_call = provider.chat_completion
        if whole_call is None:
            pytest.skip("no non-streamed chat call: the host aggregates the stream")
        caplog.set_level(logging.DEBUG)

        async def read(endpoint: InferenceEndpoint, ctx: CallContext) -> list[ChatChunk]:
            return list(
                await whole_call(endpoint, ChatRequest(messages=({"role": "user", "content": "Hi"},)), ctx)
            )

        def fold(chunks: list[ChatChunk]) -> dict[str, Any]:
            aggregator = ChatAggregator(id="chatcmpl-contract", model="m", created=1)
            for chunk in chunks:
                aggregator.add(chunk)
            return {k: v for k, v in aggregator.result().items() if k != "id"}

        chat = TaskType.CHAT_COMPLETION
        with fake_cls(api_key=self.canary) as fake:
            fake.stream(STREAM_PIECES, prompt_tokens=5, completion_tokens=7)
            streamed = self._stream(provider, fake)
            whole = self._call(provider, chat, fake.url, read, fake.connector(chat.value))
        assert fold(whole) == fold(streamed)
        self._assert_no_canary(caplog.text)

    def test_a_stream_that_breaks_off_is_a_typed_error(self, caplog: pytest.LogCaptureFixture) -> None:
        """A connection lost mid-stream raises StreamInterruptedError naming the provider, no secret."""
        provider, fake_cls = self._chat_fake()
        caplog.set_level(logging.DEBUG)
        with fake_cls(api_key=self.canary) as fake:
            fake.stream(STREAM_PIECES, abort_after=2)
            with pytest.raises(StreamInterruptedError) as info:
                self._stream(provider, fake)
        assert info.value.provider == provider.id
        self._assert_no_canary(str(info.value), repr(info.value), caplog.text)
