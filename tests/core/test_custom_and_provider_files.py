"""Providers with no code: Elasticsearch's `custom` service (templates in the connector) and provider
files (TOML in `<home>/providers/` or shipped by entry point), with a bad file reported, not fatal.

Template and parser facts are ES's (x-pack/plugin/inference .../services/custom/: CustomRequest's
placeholders, the json_parser keys of the response parsers, ValidatingSubstitutor's error text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ai_connector.context import CallContext
from ai_connector.custom_service import custom_provider
from ai_connector.errors import ConfigValidationError
from ai_connector.http import build_client
from ai_connector.manager import load_registry
from ai_connector.provider_files import ProviderFileError, parse_provider
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import (
    CompletionRequest,
    EmbeddingRequest,
    FailureKind,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.validation import validate_connector

SECRET = "custom-secret-7c1d2e"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RERANK_FILE = (EXAMPLES / "provider-files" / "acme-rerank.toml").read_text()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(server: FakeServer) -> None:
    server.reset()


@pytest.fixture
async def ctx() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id="custom", redactor=Redactor([SECRET]))


def custom_connector(
    task: TaskType, settings: dict[str, Any], *, parameters: dict[str, str] | None = None
) -> Any:
    provider = custom_provider()
    registry = load_registry(entry_points=False, plugins=[("custom", _Plugin(provider))])
    document = {
        "name": "c",
        "config": {
            "provider": "custom",
            "taskType": task.value,
            "providerConfig": settings,
            "taskTypeConfig": {"parameters": parameters or {}},
        },
        "secrets": {"providerSecrets": {"secret_parameters": {"api_key": SECRET}}},
    }
    return provider, validate_connector(document, registry).endpoint()


class _Plugin:
    def __init__(self, provider: Any) -> None:
        self.provider = provider

    from ai_connector.hookspecs import hookimpl

    @hookimpl
    def ai_connector_providers(self) -> list[Any]:
        return [self.provider]


# ---------------------------------------------------------------------------------------------
# The custom service


async def test_custom_rerank_fills_the_templates_and_reads_the_paths(
    server: FakeServer, ctx: CallContext
) -> None:
    server.add(
        "POST",
        "/rerank",
        FakeResponse.json(
            {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]}
        ),
    )
    provider, ep = custom_connector(
        TaskType.RERANK,
        {
            "url": server.url + "/rerank",
            "headers": {"Authorization": "Bearer ${api_key}"},
            "query_parameters": [["version", "${api_version}"], ["version", "v2"]],
            "request": '{"model": ${model}, "query": ${query}, "documents": ${input}, "top_n": ${top_n}}',
            "response": {
                "json_parser": {
                    "relevance_score": "$.results[*].relevance_score",
                    "reranked_index": "$.results[*].index",
                }
            },
        },
        parameters={"model": "rerank-2", "api_version": "2024-01"},
    )
    results = await provider.rerank(ep, RerankRequest(query="q", input=("a", "b"), top_n=2), ctx)
    assert results == [RerankResult(index=1, score=0.9), RerankResult(index=0, score=0.2)]
    sent = server.last
    assert sent.json() == {"model": "rerank-2", "query": "q", "documents": ["a", "b"], "top_n": 2}
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["content-type"] == "application/json"  # ES's default
    # ES's query_parameters is a list of [key, value] pairs (QueryParameters.java): order kept and
    # a key may repeat, which a map could not say.
    assert sent.query_string == "version=2024-01&version=v2"


async def test_custom_embeddings_completion_and_sparse(server: FakeServer, ctx: CallContext) -> None:
    server.add(
        "POST", "/embed", FakeResponse.json({"data": [{"embedding": [0.5, 1]}, {"embedding": [2, 3]}]})
    )
    provider, ep = custom_connector(
        TaskType.TEXT_EMBEDDING,
        {
            "url": server.url + "/embed",
            "request": '{"texts": ${input}, "type": ${input_type}}',
            "response": {"json_parser": {"text_embeddings": "$.data[*].embedding"}},
            "input_type": {"translation": {"ingest": "document", "search": "query"}, "default": "document"},
        },
    )
    vectors = await provider.text_embedding(ep, EmbeddingRequest(input=("a", "b"), input_type="search"), ctx)
    assert vectors == [[0.5, 1.0], [2.0, 3.0]] and server.last.json() == {
        "texts": ["a", "b"],
        "type": "query",
    }

    server.add("POST", "/complete", FakeResponse.json({"result": {"text": "Elastic is..."}}))
    provider, ep = custom_connector(
        TaskType.COMPLETION,
        {
            "url": server.url + "/complete",
            "request": '{"prompt": ${input}}',
            "response": {"json_parser": {"completion_result": "$.result.text"}},
        },
    )
    assert await provider.completion(ep, CompletionRequest(input="What is Elastic?"), ctx) == [
        "Elastic is..."
    ]
    assert server.last.json() == {"prompt": "What is Elastic?"}  # completion's ${input} is one string

    body = {"result": [{"embeddings": [{"token": "sky", "weight": 1.5}, {"token": "port", "weight": 0.5}]}]}
    server.add("POST", "/sparse", FakeResponse.json(body))
    provider, ep = custom_connector(
        TaskType.SPARSE_EMBEDDING,
        {
            "url": server.url + "/sparse",
            "request": '{"input": ${input}}',
            "response": {
                "json_parser": {
                    "token_path": "$.result[*].embeddings[*].token",
                    "weight_path": "$.result[*].embeddings[*].weight",
                }
            },
        },
    )
    assert await provider.sparse_embedding(ep, SparseEmbeddingRequest(input=("x",)), ctx) == [
        {"sky": 1.5, "port": 0.5}
    ]


async def test_custom_errors_use_the_error_path_and_never_the_secret(
    server: FakeServer, ctx: CallContext
) -> None:
    answer = FakeResponse.json({"detail": {"why": f"key {SECRET} is revoked"}}, status=401)
    server.add("POST", "/complete", answer)
    settings = {
        "url": server.url + "/complete",
        "headers": {"x-key": "${api_key}"},
        "request": '{"prompt": ${input}}',
        "response": {
            "json_parser": {"completion_result": "$.text"},
            "error_parser": {"path": "$.detail.why"},
        },
    }
    provider, ep = custom_connector(TaskType.COMPLETION, settings)
    result = await provider.test(ep, ctx)
    assert not result.ok and result.failure is FailureKind.CREDENTIALS
    assert "is revoked" in result.message and SECRET not in result.message


async def test_a_placeholder_without_a_value_is_refused_before_any_request(
    server: FakeServer, ctx: CallContext
) -> None:
    settings = {
        "url": server.url + "/x",
        "request": '{"input": ${input}, "model": ${model}}',
        "response": {"json_parser": {"completion_result": "$.text"}},
    }
    provider, ep = custom_connector(TaskType.COMPLETION, settings)
    with pytest.raises(
        ConfigValidationError, match=r"Found placeholder \[\$\{model\}\] in field \[request\]"
    ):
        await provider.completion(ep, CompletionRequest(input="hi"), ctx)
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# Provider files


def test_an_openai_kind_file_is_a_whole_openai_compatible_provider() -> None:
    text = (EXAMPLES / "provider-files" / "together.toml").read_text()
    provider = parse_provider(text, "together.toml")
    assert (provider.id, provider.name) == ("together", "Together AI")
    assert provider.task_types == {TaskType.CHAT_COMPLETION}
    assert provider.settings_schema["properties"]["url"]["default"] == "https://api.together.xyz/v1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("id = 'x'\nname = ", "not TOML"),
        ("id = 'acme'\nname = 'A'\nkind = 'grpc'", 'kind must be "openai" or "custom"'),
        ("name = 'A'\nkind = 'openai'", "id is missing"),
        ("id = 'Bad Id'\nname = 'A'\nkind = 'openai'", "provider id 'Bad Id' is invalid"),
        ("id = 'acme'\nname = 'A'\nkind = 'openai'\nbase_ur = 'x'", "unknown key base_ur"),
        (
            "id = 'acme'\nname = 'A'\nkind = 'custom'\ntask_types = ['rerank']\n[templates.rerank]\n"
            "url = 'https://x'\nrequest = '{\"q\": ${query}, \"k\": ${secret}}'\n"
            "response.json_parser.relevance_score = '$[*]'",
            "templates.rerank.request: ${secret} is not a declared setting or secret",
        ),
        (
            "id = 'acme'\nname = 'A'\nkind = 'custom'\ntask_types = ['chat_completion']\n",
            "the custom kind does not serve chat_completion",
        ),
    ],
)
def test_a_malformed_file_names_itself_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ProviderFileError) as info:
        parse_provider(text, "/home/u/providers/acme.toml")
    assert str(info.value).startswith("/home/u/providers/acme.toml: ") and reason in str(info.value)


def test_home_provider_files_load_and_a_bad_one_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "acme-rerank.toml").write_text(RERANK_FILE)
    (folder / "broken.toml").write_text("id = 'broken'\nname = 'B'\nkind = 'openai'\napi_key = 'maybe'\n")
    monkeypatch.setenv("AI_CONNECTOR_HOME", str(tmp_path))
    registry = load_registry()
    assert "acme" in registry.providers and "openai" in registry.providers
    failed = {p.name: p.error for p in registry.failed}
    assert "broken.toml" in failed
    assert str(folder / "broken.toml") in failed["broken.toml"]
    assert 'api_key must be "required", "optional" or "none"' in failed["broken.toml"]


async def test_a_file_provider_calls_its_templates_with_the_connectors_fields(
    server: FakeServer, ctx: CallContext
) -> None:
    provider = parse_provider(RERANK_FILE, "acme-rerank.toml")
    registry = load_registry(entry_points=False, plugins=[("acme", _Plugin(provider))])
    connector = validate_connector(
        {
            "name": "a",
            "config": {"provider": "acme", "taskType": "rerank", "providerConfig": {"url": server.url}},
            "secrets": {"providerSecrets": {"api_key": SECRET}},
        },
        registry,
    )
    answer = {"results": [{"index": 1, "relevance_score": 0.75, "document": {"text": "leia"}}]}
    server.add("POST", "/v1/rerank", FakeResponse.json(answer))
    results = await provider.rerank(
        connector.endpoint(), RerankRequest(query="q", input=("luke", "leia")), ctx
    )
    assert results == [RerankResult(index=1, score=0.75, text="leia")]
    sent = server.last
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert json.loads(sent.body) == {"model": "acme-rerank-1", "query": "q", "documents": ["luke", "leia"]}


class TestCustomServiceContract(ProviderContract):
    """The built-in `custom` service holds to the contract kit, templates in the connector."""

    provider_id = "custom"

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        parser = {
            "completion": {"completion_result": "$.text"},
            "text_embedding": {"text_embeddings": "$.data[*].embedding"},
            "sparse_embedding": {"token_path": "$.t[*][*]", "weight_path": "$.w[*][*]"},
            "rerank": {"relevance_score": "$.scores[*]"},
        }[task_type.value]
        settings = {
            "url": base_url + "/infer",
            "headers": {"Authorization": "Bearer ${api_key}"},
            "request": '{"input": ${input}}',
            "response": {"json_parser": parser, "error_parser": {"path": "$.message"}},
        }
        return settings, {"secret_parameters": {"api_key": self.canary}}

    def serve_rejected_credentials(self, server: Any) -> None:
        server.add("*", "/.*", FakeResponse.json({"message": "invalid key"}, status=401))


class TestProviderFileContract(ProviderContract):
    """A provider file holds to the contract kit as a plugin would."""

    provider_id = "acme"

    def load_provider(self) -> Any:
        return parse_provider(RERANK_FILE, "acme-rerank.toml")

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return {"url": base_url}, {"api_key": self.canary}

    def serve_rejected_credentials(self, server: Any) -> None:
        server.add("*", "/.*", FakeResponse.json({"error": {"message": "invalid api key"}}, status=401))

    def test_registration_imports_nothing_heavy(self) -> None:
        """A file is parsed, not imported: nothing to check beyond the core's own imports."""


def test_ai_connector_plugins_reports_a_malformed_file_with_the_file_and_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "together.toml").write_text((EXAMPLES / "provider-files" / "together.toml").read_text())
    (folder / "bad.toml").write_text("id = 'bad'\nname = 'B'\nkind = 'custom'\ntask_types = ['rerank']\n")
    env = {**os.environ, "AI_CONNECTOR_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "ai_connector.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["together.toml"]["status"] == "active" and plugins["together.toml"]["providers"] == [
        "together"
    ]
    bad = plugins["bad.toml"]
    assert bad["status"] == "failed"
    assert f"{folder / 'bad.toml'}: templates is missing" in bad["error"]
    assert plugins["openai"]["status"] == "active"  # the host keeps working


def test_custom_settings_take_elasticsearch_shapes() -> None:
    """CustomServiceSettings.java: `query_parameters` a list of string pairs, `batch_size` a
    positive integer (default 10), `similarity` one of cosine/dot_product/l2_norm."""
    from ai_connector.custom_service import custom_settings_schema, query_pairs

    schema = custom_settings_schema()
    props = schema["properties"]
    validator = jsonschema.Draft202012Validator(schema)
    base = {"url": "https://x.example/embed", "request": "{}", "response": {"json_parser": {}}}
    assert not list(validator.iter_errors({**base, "query_parameters": [["a", "1"], ["a", "2"]]}))
    assert list(validator.iter_errors({**base, "query_parameters": [["a"]]}))
    assert list(validator.iter_errors({**base, "query_parameters": {"a": "1"}}))
    assert list(validator.iter_errors({**base, "batch_size": 0}))
    assert list(validator.iter_errors({**base, "similarity": "manhattan"}))
    assert not list(validator.iter_errors({**base, "batch_size": 32, "similarity": "cosine"}))
    assert props["batch_size"]["default"] == 10
    assert props["similarity"]["x-task-types"] == ["text_embedding"]
    # a provider file may keep a key -> value table; anything else is refused with the field's name
    assert query_pairs({"query_parameters": {"v": "1"}}) == [("v", "1")]
    with pytest.raises(ValueError, match="query_parameters"):
        query_pairs({"query_parameters": [["only-a-key"]]})
