"""A wire-exact fake of Google Vertex AI and Google's OAuth2 token endpoint, on `FakeServer`.

The token endpoint verifies the JWT-bearer grant the way Google does (RS256 signature against the
service account's public key, `iss`, `aud`, `scope`, lifetime) and answers `{"access_token",
"expires_in", "token_type"}` or OAuth's `{"error": "invalid_grant", ...}`. The Vertex routes check the
bearer token, the project/location/model path and the body, and answer in Google's formats: unary
GenerateContentResponse, CRLF-framed SSE streams without terminator, `:predict` embeddings, Discovery
Engine rankings, and `google.rpc.Status` errors (wire.md section 4). Keys are generated with
`cryptography` when first needed.

Use `connector(base_url)` for a providerConfig/providerSecrets pair aimed at a server (its key's
`token_uri` points at the same server) and `serve_chat(server, pieces)` to stream a chat answer.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector.testing.scenario import ChatScenario
from ai_connector_gemini.testing import (
    MID_STREAM_CANCELLED,
    error_info,
    generate_response,
    rpc_status,
    scenario_answer,
    scenario_objects,
    sse,
    text_stream,
    usage_metadata,
)
from ai_connector_googlevertexai.auth import GOOGLE_TOKEN_URI, JWT_BEARER_GRANT, SCOPE

__all__ = [
    "CHAT_MODEL",
    "CLIENT_EMAIL",
    "DEFAULT_REPLY",
    "DEFAULT_VECTOR",
    "EMBEDDING_MODEL",
    "LOCATION",
    "MID_STREAM_CANCELLED",
    "PROJECT",
    "RERANK_MODEL",
    "TOKEN_PATH",
    "FakeVertexAI",
    "connector",
    "install",
    "internal_error",
    "invalid_grant",
    "model_not_found",
    "permission_denied",
    "quota_exceeded",
    "resource_exhausted",
    "serve_chat",
    "service_account_json",
    "signing_key",
    "unauthenticated",
]

TOKEN_PATH = "/token"
PROJECT = "test-project"
LOCATION = "us-central1"
CHAT_MODEL = "gemini-2.0-flash"
EMBEDDING_MODEL = "text-embedding-005"
RERANK_MODEL = "semantic-ranker-default@latest"
CLIENT_EMAIL = "ai-connector@test-project.iam.gserviceaccount.com"

_KEYS: dict[str, tuple[str, str]] = {}
_ISSUED: set[str] = set()  # every access token any fake in this process handed out
_SERIAL = itertools.count(1)


def signing_key(name: str = "default") -> tuple[str, str]:
    """An RSA key pair as (private PEM, public PEM), generated once per process and name."""
    if name not in _KEYS:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        _KEYS[name] = (private, public)
    return _KEYS[name]


def service_account_json(
    token_uri: str,
    *,
    private_key_id: str = "canary-secret-0000",
    client_email: str = CLIENT_EMAIL,
    private_key: str | None = None,
) -> str:
    """A service-account key file as the Google Cloud console downloads it, signed by `signing_key()`."""
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": private_key_id,
            "private_key": private_key if private_key is not None else signing_key()[0],
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/ai-connector",
            "universe_domain": "googleapis.com",
        }
    )


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict, dict]:
    """(providerConfig, providerSecrets) aiming a connector of `task_type` at a fake on `base_url`.

    `secret` is written into the key file (as its `private_key_id`), so a test can look for it in
    anything the connector says.
    """
    model = {"text_embedding": EMBEDDING_MODEL, "rerank": RERANK_MODEL}.get(task_type, CHAT_MODEL)
    config: dict[str, Any] = {"model_id": model, "project_id": PROJECT, "url": base_url}
    if task_type != "rerank":
        config["location"] = LOCATION
    secrets = {"service_account_json": service_account_json(base_url + TOKEN_PATH, private_key_id=secret)}
    return config, secrets


# --- Google's error bodies (wire.md section 4) ------------------------------------------------


def unauthenticated() -> dict[str, Any]:
    """401: a bad or expired access token."""
    return rpc_status(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "UNAUTHENTICATED",
    )


def permission_denied(
    model: str = CHAT_MODEL, project: str = PROJECT, location: str = LOCATION
) -> dict[str, Any]:
    """403: the service account lacks `aiplatform.endpoints.predict` on the model."""
    resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
    return rpc_status(
        403,
        "Permission 'aiplatform.endpoints.predict' denied on resource "
        f"'//aiplatform.googleapis.com/{resource}' (or it may not exist).",
        "PERMISSION_DENIED",
        error_info(
            "IAM_PERMISSION_DENIED",
            "aiplatform.googleapis.com",
            permission="aiplatform.endpoints.predict",
            resource=resource,
        ),
    )


def model_not_found(model: str, project: str = PROJECT, location: str = LOCATION) -> dict[str, Any]:
    """404: no such publisher model in that region (or no access to it)."""
    return rpc_status(
        404,
        f"Publisher Model `projects/{project}/locations/{location}/publishers/google/models/{model}` was not "
        "found or your project does not have access to it. Please ensure you are using a valid model "
        "version. For more information, see: "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
        "NOT_FOUND",
    )


def resource_exhausted() -> dict[str, Any]:
    """429 with no Retry-After and no RetryInfo: shared capacity is exhausted."""
    return rpc_status(
        429,
        "Resource exhausted. Please try again later. Please refer to "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
        "RESOURCE_EXHAUSTED",
    )


def quota_exceeded(model: str = CHAT_MODEL) -> dict[str, Any]:
    """429 for the project's per-minute quota, with ErrorInfo `RATE_LIMIT_EXCEEDED`."""
    return rpc_status(
        429,
        "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_"
        f"base_model with base model: {model}. Please submit a quota increase request. "
        "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
        "RESOURCE_EXHAUSTED",
        error_info("RATE_LIMIT_EXCEEDED", "aiplatform.googleapis.com"),
    )


def internal_error() -> dict[str, Any]:
    """500."""
    return rpc_status(500, "Internal error encountered.", "INTERNAL")


def invalid_grant(description: str = "Invalid JWT Signature.") -> dict[str, Any]:
    """The token endpoint's OAuth error body."""
    return {"error": "invalid_grant", "error_description": description}


class FakeVertexAI:
    """Vertex AI and its token endpoint on a FakeServer; each `serve_*` adds (or overrides) routes.

    `token_requests` counts token exchanges; `revoke()` makes every token issued so far fail with 401.
    """

    def __init__(
        self,
        server: FakeServer,
        *,
        project: str = PROJECT,
        location: str = LOCATION,
        client_email: str = CLIENT_EMAIL,
        expires_in: int = 3599,
    ) -> None:
        self.server = server
        self.project = project
        self.location = location
        self.client_email = client_email
        self.expires_in = expires_in
        self.token_requests = 0
        self.revoked: set[str] = set()
        server.add("POST", re.escape(TOKEN_PATH), self._token)

    # -- the token endpoint ---------------------------------------------------------------------
    def _token(self, req: RecordedRequest) -> FakeResponse:
        self.token_requests += 1
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return FakeResponse.json(invalid_grant("Bad Request"), 400)
        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER_GRANT or not form.get("assertion"):
            return FakeResponse.json(
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400
            )
        from google.auth import jwt

        try:
            claims = jwt.decode(form["assertion"], certs=signing_key()[1], audience=GOOGLE_TOKEN_URI)
        except Exception:
            return FakeResponse.json(invalid_grant("Invalid JWT Signature."), 400)
        if claims.get("iss") != self.client_email:
            return FakeResponse.json(invalid_grant("Invalid grant: account not found"), 400)
        if claims.get("scope") != SCOPE or int(claims["exp"]) - int(claims["iat"]) > 3600:
            return FakeResponse.json(invalid_grant("Invalid JWT: Failed audience check or lifetime."), 400)
        token = f"ya29.fake-access-token-{next(_SERIAL)}"
        _ISSUED.add(token)
        return FakeResponse.json(
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    def reject_tokens(self, description: str = "Invalid JWT Signature.", status: int = 400) -> None:
        """The token endpoint refuses every grant with `invalid_grant`."""
        self.server.add("POST", re.escape(TOKEN_PATH), FakeResponse.json(invalid_grant(description), status))

    def revoke(self) -> None:
        """Every token issued so far is refused from now on."""
        self.revoked |= _ISSUED

    def _unauthorized(self, req: RecordedRequest) -> FakeResponse | None:
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token not in _ISSUED or token in self.revoked:
            return FakeResponse.json(unauthenticated(), 401)
        return None

    # -- Vertex AI routes -----------------------------------------------------------------------
    def model_path(self, model: str, method: str) -> str:
        """The route regex of a publisher model method."""
        return re.escape(
            f"/v1/projects/{self.project}/locations/{self.location}/publishers/google/models/{model}:{method}"
        )

    def serve_generate(
        self,
        text: str,
        *,
        model: str = CHAT_MODEL,
        finish_reason: str = "STOP",
        prompt_tokens: int = 5,
        completion_tokens: int = 7,
    ) -> None:
        """`:generateContent` answers `text`."""
        answer = generate_response(
            text, finish_reason=finish_reason, usage=usage_metadata(prompt_tokens, completion_tokens)
        )

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._unauthorized(req) or _check_contents(req)
            return refused or FakeResponse.json(answer)

        self.server.add("POST", self.model_path(model, "generateContent"), handle)

    def serve_stream(
        self,
        pieces: Sequence[str],
        *,
        model: str = CHAT_MODEL,
        prompt_tokens: int = 5,
        completion_tokens: int = 7,
        finish_reason: str = "STOP",
    ) -> None:
        """`:streamGenerateContent` streams `pieces` and ends with `finish_reason` and the usage."""
        chunks = text_stream(
            pieces,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish_reason,
        )
        self.serve_stream_chunks(chunks, model=model)

    def serve_stream_chunks(
        self, chunks: Sequence[str], *, model: str = CHAT_MODEL, abort_after: int | None = None
    ) -> None:
        """`:streamGenerateContent?alt=sse` sends these raw body chunks (cut off after `abort_after`);
        without `alt=sse` the events' objects come back as one JSON array, as Vertex does."""

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._unauthorized(req) or _check_contents(req)
            if refused:
                return refused
            if req.query.get("alt") != "sse":
                objects = [json.loads(c.strip()[6:]) for c in chunks if c.startswith("data: ")]
                return FakeResponse.json(objects)
            return FakeResponse(
                chunks=list(chunks), abort_after=abort_after, content_type="text/event-stream"
            )

        self.server.add("POST", self.model_path(model, "streamGenerateContent"), handle)

    def serve_scenario(self, scenario: ChatScenario, *, model: str = CHAT_MODEL) -> None:
        """`:generateContent` and `:streamGenerateContent` both answer `scenario`, whole or streamed."""

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._unauthorized(req) or _check_contents(req)
            return refused or FakeResponse.json(scenario_answer(scenario))

        self.server.add("POST", self.model_path(model, "generateContent"), handle)
        self.serve_stream_chunks(sse(scenario_objects(scenario)), model=model)

    def serve_embeddings(self, vectors: Sequence[Sequence[float]], *, model: str = EMBEDDING_MODEL) -> None:
        """`:predict` answers one of `vectors` per instance (cycling if there are more instances)."""

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._unauthorized(req)
            if refused:
                return refused
            instances = req.json().get("instances")
            if not isinstance(instances, list) or not all("content" in i for i in instances):
                return FakeResponse.json(
                    rpc_status(400, "Invalid JSON payload: instances", "INVALID_ARGUMENT"), 400
                )
            predictions = [
                {
                    "embeddings": {
                        "statistics": {"truncated": False, "token_count": len(i["content"].split())},
                        "values": list(vectors[n % len(vectors)]),
                    }
                }
                for n, i in enumerate(instances)
            ]
            chars = sum(len(i["content"]) for i in instances)
            return FakeResponse.json(
                {"predictions": predictions, "metadata": {"billableCharacterCount": chars}}
            )

        self.server.add("POST", self.model_path(model, "predict"), handle)

    def serve_rerank(self, scores: Sequence[float] | None = None) -> None:
        """The Discovery Engine `:rank` answers the records sorted by `scores` (one per record; by
        default the first record ranks highest), honouring `topN` and `ignoreRecordDetailsInResponse`."""
        path = re.escape(
            f"/v1/projects/{self.project}/locations/global/rankingConfigs/default_ranking_config:rank"
        )

        def handle(req: RecordedRequest) -> FakeResponse:
            refused = self._unauthorized(req)
            if refused:
                return refused
            body = req.json()
            records = body.get("records")
            if not isinstance(records, list) or not body.get("query"):
                return FakeResponse.json(
                    rpc_status(400, "query and records are required", "INVALID_ARGUMENT"), 400
                )
            ranked = []
            for n, record in enumerate(records):
                score = scores[n] if scores is not None else round(1.0 / (n + 1), 4)
                out = {"id": record["id"], "score": score}
                if not body.get("ignoreRecordDetailsInResponse"):
                    out["content"] = record.get("content", "")
                ranked.append(out)
            ranked.sort(key=lambda r: r["score"], reverse=True)
            if body.get("topN"):
                ranked = ranked[: int(body["topN"])]
            return FakeResponse.json({"records": ranked})

        self.server.add("POST", path, handle)

    def serve_error(self, status: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        """Every Vertex AI and Discovery Engine call answers `status` with `body` (the token endpoint
        keeps working)."""
        self.server.add("POST", r"/v1/.*", FakeResponse.json(body, status, headers))


DEFAULT_REPLY = ("Hello", " there!")
DEFAULT_VECTOR = (0.1, 0.2, 0.3, 0.4)


def install(server: FakeServer, api_key: str = "") -> FakeVertexAI:
    """The routes `ai-connector fake googlevertexai` serves, so its printed connector passes Save &
    test and runs: the token endpoint, `:generateContent` (Save & test, completion) and
    `:streamGenerateContent` (chat) answering DEFAULT_REPLY, `:predict` (text_embedding)
    DEFAULT_VECTOR, and the Discovery Engine `:rank` (rerank); a test's own `serve_*` replaces them.
    (`api_key` is unused: Vertex AI takes the service account's tokens.)"""
    fake = FakeVertexAI(server)
    fake.serve_generate("".join(DEFAULT_REPLY))
    fake.serve_stream(DEFAULT_REPLY)
    fake.serve_embeddings([DEFAULT_VECTOR])
    fake.serve_rerank()
    return fake


def _check_contents(req: RecordedRequest) -> FakeResponse | None:
    try:
        contents = req.json().get("contents")
    except ValueError:
        contents = None
    if not isinstance(contents, list) or not contents:
        return FakeResponse.json(
            rpc_status(
                400, "Unable to submit request because it has an empty contents field.", "INVALID_ARGUMENT"
            ),
            400,
        )
    return None


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `pieces` as the assistant's text (finish reason STOP, then that usage), streamed or
    unary, to a connector made by `connector(server.url)`, token endpoint included."""
    fake = FakeVertexAI(server)
    fake.serve_stream(pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    fake.serve_generate("".join(pieces), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing googlevertexai --port N` serves one.
FAKE = fake_class(
    "googlevertexai",
    install=install,
    connector=connector,
    serve_chat=serve_chat,
)
