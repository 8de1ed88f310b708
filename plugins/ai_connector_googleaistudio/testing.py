"""A wire-exact fake of Google AI Studio (the Gemini Developer API), on `FakeServer`.

Routes check the `x-goog-api-key` header, the model path and the body, and answer in Google's formats:
GenerateContentResponse, `batchEmbedContents` embeddings, and `google.rpc.Status` errors as wire.md
section 5 records them (a bad key is HTTP 400 INVALID_ARGUMENT / API_KEY_INVALID; a spent quota is 429
with QuotaFailure, Help and RetryInfo `retryDelay` details; no Retry-After header).

`connector(base_url)` gives a providerConfig/providerSecrets pair aimed at a server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector_gemini.testing import (
    error_info,
    generate_response,
    help_links,
    quota_failure,
    retry_info,
    rpc_status,
    usage_metadata,
)

__all__ = [
    "DEFAULT_REPLY",
    "DEFAULT_VECTOR",
    "EMBEDDING_MODEL",
    "MODEL",
    "FakeAIStudio",
    "api_key_invalid",
    "connector",
    "install",
    "internal_error",
    "model_not_found",
    "quota_exceeded",
    "service_disabled",
    "unregistered_caller",
]

MODEL = "gemini-2.0-flash"
EMBEDDING_MODEL = "text-embedding-004"


def connector(
    base_url: str, task_type: str = "completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict, dict]:
    """(providerConfig, providerSecrets) aiming a connector of `task_type` at a fake on `base_url`."""
    model = EMBEDDING_MODEL if task_type == "text_embedding" else MODEL
    return {"model_id": model, "url": base_url}, {"api_key": secret}


# --- Google's error bodies (wire.md section 5) ------------------------------------------------


def api_key_invalid() -> dict[str, Any]:
    """400 INVALID_ARGUMENT for a wrong key (googleai/unary-failure-api-key)."""
    return rpc_status(
        400,
        "API key not valid. Please pass a valid API key.",
        "INVALID_ARGUMENT",
        error_info("API_KEY_INVALID", "googleapis.com", service="generativelanguage.googleapis.com"),
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    )


def unregistered_caller() -> dict[str, Any]:
    """403 for a request without any key."""
    return rpc_status(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API "
        "Key or other form of API consumer identity to call this API.",
        "PERMISSION_DENIED",
    )


def service_disabled(project_number: str = "123456789") -> dict[str, Any]:
    """403 when the Generative Language API is disabled for the key's project."""
    return rpc_status(
        403,
        f"Generative Language API has not been used in project {project_number} before or it is disabled. "
        "Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com"
        f"/overview?project={project_number} then retry.",
        "PERMISSION_DENIED",
        error_info(
            "SERVICE_DISABLED",
            "googleapis.com",
            consumer=f"projects/{project_number}",
            service="generativelanguage.googleapis.com",
        ),
    )


def model_not_found(model: str, method: str = "generateContent") -> dict[str, Any]:
    """404 for an unknown model (googleai/unary-failure-unknown-model)."""
    return rpc_status(
        404,
        f"models/{model} is not found for API version v1beta, or is not supported for {method}. Call "
        "ListModels to see the list of available models and their supported methods.",
        "NOT_FOUND",
    )


def quota_exceeded(model: str = MODEL, *, retry_delay: str = "59s", per: str = "Minute") -> dict[str, Any]:
    """429 RESOURCE_EXHAUSTED with QuotaFailure, Help and RetryInfo details; `per="Day"` is a spent daily
    quota."""
    return rpc_status(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more information "
        "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        "RESOURCE_EXHAUSTED",
        quota_failure(
            "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier",
            location="global",
            model=model,
        ),
        help_links("Learn more about Gemini API quotas", "https://ai.google.dev/gemini-api/docs/rate-limits"),
        retry_info(retry_delay),
    )


def internal_error() -> dict[str, Any]:
    """500."""
    return rpc_status(
        500,
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        "INTERNAL",
    )


class FakeAIStudio:
    """The Gemini Developer API on a FakeServer, accepting one API key; each `serve_*` adds routes."""

    def __init__(self, server: FakeServer, *, api_key: str = "canary-secret-0000") -> None:
        self.server = server
        self.api_key = api_key

    def _refused(self, req: RecordedRequest) -> FakeResponse | None:
        key = req.headers.get("x-goog-api-key") or req.query.get("key")
        if not key:
            return FakeResponse.json(unregistered_caller(), 403)
        if key != self.api_key:
            return FakeResponse.json(api_key_invalid(), 400)
        return None

    @staticmethod
    def model_path(model: str, method: str) -> str:
        """The route regex of a model method."""
        return re.escape(f"/v1beta/models/{model}:{method}")

    def serve_generate(
        self,
        text: str,
        *,
        model: str = MODEL,
        finish_reason: str = "STOP",
        prompt_tokens: int = 5,
        completion_tokens: int = 7,
    ) -> None:
        """`:generateContent` answers `text`."""
        answer = generate_response(
            text, finish_reason=finish_reason, usage=usage_metadata(prompt_tokens, completion_tokens)
        )

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._refused(req)
            if refused:
                return refused
            contents = req.json().get("contents")
            if not isinstance(contents, list) or not contents:
                return FakeResponse.json(
                    rpc_status(
                        400,
                        "* GenerateContentRequest.contents: contents is not specified",
                        "INVALID_ARGUMENT",
                    ),
                    400,
                )
            return FakeResponse.json(answer)

        self.server.add("POST", self.model_path(model, "generateContent"), handle)

    def serve_embeddings(self, vectors: Sequence[Sequence[float]], *, model: str = EMBEDDING_MODEL) -> None:
        """`:batchEmbedContents` answers one of `vectors` per request (cycling)."""

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._refused(req)
            if refused:
                return refused
            requests = req.json().get("requests")
            if not isinstance(requests, list) or not requests:
                return FakeResponse.json(
                    rpc_status(
                        400,
                        "* BatchEmbedContentsRequest.requests: requests is not specified",
                        "INVALID_ARGUMENT",
                    ),
                    400,
                )
            for item in requests:
                if item.get("model") != f"models/{model}":
                    return FakeResponse.json(
                        rpc_status(
                            400,
                            "* BatchEmbedContentsRequest.model: model in request does not match "
                            f"models/{model}",
                            "INVALID_ARGUMENT",
                        ),
                        400,
                    )
            embeddings = [{"values": list(vectors[n % len(vectors)])} for n in range(len(requests))]
            return FakeResponse.json({"embeddings": embeddings})

        self.server.add("POST", self.model_path(model, "batchEmbedContents"), handle)

    def serve_error(self, status: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        """Every call answers `status` with `body`."""
        self.server.add("POST", r"/v1beta/.*", FakeResponse.json(body, status, headers))


DEFAULT_REPLY = "Hello there!"
DEFAULT_VECTOR = (0.1, 0.2, 0.3, 0.4)


def install(server: FakeServer, api_key: str) -> FakeAIStudio:
    """The routes `ai-connector fake googleaistudio` serves, so its printed connector passes Save &
    test and runs: `:generateContent` (the completion task and its test) answers DEFAULT_REPLY,
    `:batchEmbedContents` (text_embedding) DEFAULT_VECTOR; a test's own `serve_*` replaces them."""
    fake = FakeAIStudio(server, api_key=api_key)
    fake.serve_generate(DEFAULT_REPLY)
    fake.serve_embeddings([DEFAULT_VECTOR])
    return fake


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing googleaistudio --port N` serves one.
FAKE = fake_class("googleaistudio", install=install, connector=connector)
