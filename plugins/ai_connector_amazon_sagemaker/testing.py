"""A wire-exact fake of Amazon SageMaker Runtime on a `FakeServer`.

`POST /endpoints/<name>/invocations` and `/invocations-response-stream`, each request's SigV4
signature recomputed with botocore (service `sagemaker`) from the secret of the access key it names.
Endpoints: `openai-endpoint` (a container speaking OpenAI's embeddings and chat) and one
`elastic-<task>` per task type speaking Elasticsearch's inference shapes. Streams are
`application/vnd.amazon.eventstream` `PayloadPart` frames whose bytes are the model's SSE text,
split across frames mid-event. Errors are SageMaker's: `{"message"}` with `x-amzn-ErrorType` (403
UnrecognizedClientException / InvalidSignatureException, 400 ValidationError "Endpoint ... not
found.", 429 ThrottlingException, 500 InternalFailure), 424 ModelError with the model's
`OriginalStatusCode` / `OriginalMessage`, and `ModelStreamError` exception frames inside a stream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import zlib
from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import ProviderFake
from ai_connector.testing.scenario import ChatScenario, openai_answer, openai_chunks

__all__ = [
    "ELASTIC_ENDPOINTS",
    "FAKE",
    "OPENAI_ENDPOINT",
    "REGION",
    "FakeSageMaker",
    "SageMakerFake",
    "aws_error",
    "connector",
    "model_error",
    "openai_sse",
    "payload_stream",
    "stream_error_frame",
]

REGION = "us-east-1"
OPENAI_ENDPOINT = "openai-endpoint"
# One Elasticsearch-speaking endpoint per task type (a container serves one task).
ELASTIC_ENDPOINTS = {
    t: f"elastic-{t.replace('_', '-')}"
    for t in ("text_embedding", "sparse_embedding", "rerank", "completion")
}
_ACCOUNT = "123456789012"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_PATH = r"/endpoints/(?P<name>[^/]+)/(?P<op>invocations|invocations-response-stream)"


def access_key_for(secret: str) -> str:
    """The test access key id paired with `secret`."""
    return "AKIA" + hashlib.sha256(secret.encode()).hexdigest()[:16].upper()


def aws_error(status: int, kind: str, message: str, **extra: Any) -> FakeResponse:
    """SageMaker Runtime's error: the type in `x-amzn-ErrorType`, `{"message"}` (or extra fields)."""
    body = extra or {"message": message}
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.sagemaker/"}
    return FakeResponse.json(body, status=status, headers=headers)


def model_error(original_status: int = 400, original: str = "model failed") -> FakeResponse:
    """The 424 ModelError SageMaker answers when the container itself answered an error."""
    return aws_error(
        424,
        "ModelError",
        "",
        ErrorCode="CLIENT_ERROR_FROM_MODEL",
        LogStreamArn=f"arn:aws:logs:{REGION}:{_ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{OPENAI_ENDPOINT}",
        Message=f'Received client error ({original_status}) from primary with message "{original}".',
        OriginalMessage=original,
        OriginalStatusCode=original_status,
    )


def _frame(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message (string headers only): prelude, its CRC, headers, payload, CRC."""
    head = b"".join(
        struct.pack(">B", len(n.encode()))
        + n.encode()
        + b"\x07"
        + struct.pack(">H", len(v.encode()))
        + v.encode()
        for n, v in headers
    )
    prelude = struct.pack(">II", 16 + len(head) + len(payload), len(head))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _payload_part(data: bytes) -> bytes:
    headers = [
        (":event-type", "PayloadPart"),
        (":content-type", "application/octet-stream"),
        (":message-type", "event"),
    ]
    return _frame(headers, data)


def stream_error_frame(message: str = "model container crashed", code: str = "ModelStreamError") -> bytes:
    """An exception frame inside a stream (`ModelStreamError` / `InternalStreamFailure`)."""
    headers = [
        (":exception-type", code),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return _frame(headers, json.dumps({"Message": message, "ErrorCode": "ModelError"}).encode())


def openai_sse(pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7) -> str:
    """The SSE text an OpenAI-compatible container streams: role, pieces, finish, usage, [DONE]."""
    base = {
        "id": "chatcmpl-sm-0001",
        "object": "chat.completion.chunk",
        "created": 1733000000,
        "model": "tgi",
    }
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}, *({"content": p} for p in pieces)]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    total = prompt_tokens + completion_tokens
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": total}
    chunks.append({**base, "choices": [], "usage": usage})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def payload_stream(
    text: str, *, part_size: int = 40, extra: Sequence[bytes] = (), abort_after: int | None = None
) -> FakeResponse:
    """`text` as PayloadPart frames of `part_size` bytes (events split across frames), then `extra` frames."""
    raw = text.encode()
    frames = [_payload_part(raw[i : i + part_size]) for i in range(0, len(raw), part_size)]
    return FakeResponse(
        chunks=[*frames, *extra], abort_after=abort_after, content_type="application/vnd.amazon.eventstream"
    )


def _vector(text: str) -> list[float]:
    return [round(len(text) / 100.0, 4), 0.0311, -0.0177]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


# What an OpenAI-compatible container (TGI here) puts around its chunks and answers.
_ENVELOPE = {"id": "chatcmpl-sm-0001", "created": 1733000000, "model": "tgi"}


class FakeSageMaker:
    """SageMaker Runtime with an OpenAI-speaking and an Elasticsearch-speaking endpoint."""

    def __init__(self, server: FakeServer, *, secret: str) -> None:
        self.credentials = {access_key_for(secret): secret}
        self.sse = openai_sse(("Hello", " from", " SageMaker"))
        self.scenario: ChatScenario | None = None  # when set, both invocations answer it
        server.add("POST", _PATH, self._answer)

    def _verify(self, request: RecordedRequest) -> FakeResponse | None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = _AUTH.fullmatch(request.headers.get("authorization", "").strip())
        if auth is None:
            return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        secret = self.credentials.get(auth["key"])
        if secret is None or auth["service"] != "sagemaker":
            return aws_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        signed = auth["signed"].split(";")
        url = f"http://{request.headers.get('host', '')}{request.path}"
        aws = AWSRequest(
            method="POST", url=url, data=request.body, headers={n: request.headers.get(n, "") for n in signed}
        )
        aws.context["timestamp"] = request.headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(auth["key"], secret), "sagemaker", auth["region"])
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
        if not hmac.compare_digest(expected, auth["signature"]):
            return aws_error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check "
                "your AWS Secret Access Key and signing method. Consult the service documentation for "
                "details.",
            )
        return None

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        refused = self._verify(request)
        if refused is not None:
            return refused
        m = re.fullmatch(_PATH, request.path)
        assert m is not None
        elastic_task = next((t for t, n in ELASTIC_ENDPOINTS.items() if n == m["name"]), None)
        if m["name"] != OPENAI_ENDPOINT and elastic_task is None:
            return aws_error(400, "ValidationError", f"Endpoint {m['name']} of account {_ACCOUNT} not found.")
        try:
            body = request.json()
        except ValueError:
            return model_error(400, "Failed to deserialize the JSON body")
        if m["op"] == "invocations-response-stream":
            if not body.get("stream") or not body.get("messages"):
                return model_error(422, "messages and stream are required")
            if self.scenario is not None:
                chunks = openai_chunks(self.scenario, envelope=_ENVELOPE)
                return payload_stream(
                    "".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks)
                )
            return payload_stream(self.sse)
        answer = self._openai(body) if elastic_task is None else self._elastic(elastic_task, body)
        return answer or model_error(400, "unexpected payload")

    def _openai(self, body: dict[str, Any]) -> FakeResponse | None:
        if isinstance(body.get("input"), list):
            data = [
                {"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in enumerate(body["input"])
            ]
            return FakeResponse.json(
                {"object": "list", "data": data, "model": "bge", "usage": {"prompt_tokens": 2}}
            )
        if isinstance(body.get("messages"), list) and not body.get("stream") and self.scenario is not None:
            return FakeResponse.json(openai_answer(self.scenario, envelope=_ENVELOPE))
        if isinstance(body.get("messages"), list) and not body.get("stream"):
            message = {"role": "assistant", "content": "Hello from SageMaker"}
            return FakeResponse.json(
                {
                    "id": "chatcmpl-sm-0002",
                    "object": "chat.completion",
                    "model": "tgi",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
                }
            )
        return None

    def _elastic(self, task: str, body: dict[str, Any]) -> FakeResponse | None:
        inputs = body.get("input")
        if not isinstance(inputs, list) or not inputs:
            return None
        if task == "rerank":
            if not body.get("query"):
                return None
            words = set(_words(body["query"]))
            ranked = sorted(
                ((len(words & set(_words(t))) + 1.0 / (i + 2), i, t) for i, t in enumerate(inputs)),
                reverse=True,
            )
            keep = body.get("return_documents", True)
            results = [
                {"index": i, "relevance_score": round(s, 6), **({"text": t} if keep else {})}
                for s, i, t in ranked
            ]
            return FakeResponse.json({"rerank": results[: body.get("top_n") or len(results)]})
        if task == "sparse_embedding":
            items = [
                {"is_truncated": False, "embedding": {w: 1.0 + len(w) / 10 for w in _words(t)}}
                for t in inputs
            ]
            return FakeResponse.json({"sparse_embedding": items})
        if task == "completion":
            return FakeResponse.json({"completion": [{"result": f"Echo: {t}"} for t in inputs]})
        return FakeResponse.json({"text_embedding": [{"embedding": _vector(t)} for t in inputs]})


def connector(base_url: str, task_type: str, *, secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) for the fake: the openai endpoint for embeddings, completion
    and chat, the elastic one for sparse embeddings and rerank."""
    elastic = task_type in ("sparse_embedding", "rerank")
    settings = {
        "api": "elastic" if elastic else "openai",
        "endpoint_name": ELASTIC_ENDPOINTS[task_type] if elastic else OPENAI_ENDPOINT,
        "region": REGION,
        "url": base_url,
    }
    return settings, {"access_key": access_key_for(secret), "secret_key": secret}


class SageMakerFake(ProviderFake):
    """The shared fake API for SageMaker (`python -m ai_connector.testing amazon_sagemaker --port N`)."""

    provider_id = "amazon_sagemaker"
    sagemaker: FakeSageMaker

    def install(self) -> SageMakerFake:
        self.sagemaker = FakeSageMaker(self.server, secret=self.api_key)
        return self

    def serve_chat(self, pieces: Sequence[str], *, prompt_tokens: int, completion_tokens: int) -> None:
        self.sagemaker.sse = openai_sse(
            pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        self.sagemaker.scenario = ChatScenario(
            "serve_chat", text=tuple(pieces), usage=(prompt_tokens, completion_tokens)
        )

    def connector_settings(self, task_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return connector(self.url, task_type, secret=self.api_key)


FAKE = SageMakerFake
