"""A wire-exact fake of the Bedrock runtime for tests, built on `ai_connector.testing.FakeServer`.

`FakeBedrock` answers Converse, ConverseStream and InvokeModel (Titan and Cohere embeddings) the way
`bedrock-runtime` does: it recomputes every request's SigV4 signature with botocore from the
credentials it knows (an unknown access key gets 403 UnrecognizedClientException, a wrong secret
403 InvalidSignatureException with AWS's canonical-request dump), checks the body's shape, and
frames ConverseStream answers in `application/vnd.amazon.eventstream` with this module's encoder.

    with FakeServer() as server:
        fake = FakeBedrock(server)
        config, secrets = connector(server.url)          # a connector aimed at the fake
        fake.pieces = ["Hel", "lo"]                      # what ConverseStream will say
        fake.override = throttled()                      # or: answer every call with an error

Error texts are AWS's as quoted in public reports (see wire.md section 3); those marked [U] there were
not re-checked against a live service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector.testing.scenario import ChatScenario, split

__all__ = [
    "ERROR_TYPE_SUFFIX",
    "EVENTSTREAM_CONTENT_TYPE",
    "TEST_CHAT_MODEL",
    "TEST_COHERE_MODEL",
    "TEST_REGION",
    "TEST_TITAN_MODEL",
    "FakeBedrock",
    "access_denied",
    "access_key_for",
    "aws_error",
    "connector",
    "converse_response",
    "converse_stream_messages",
    "encode_header",
    "encode_message",
    "error_message",
    "event_message",
    "exception_message",
    "fake_embedding",
    "internal_server_error",
    "invalid_model",
    "invalid_signature",
    "model_not_found",
    "scenario_converse",
    "scenario_stream_messages",
    "serve_chat",
    "service_quota_exceeded",
    "service_unavailable",
    "stream_response",
    "throttled",
    "unrecognized_client",
    "validation_error",
    "verify_signature",
]

TEST_REGION = "us-east-1"
TEST_CHAT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TEST_TITAN_MODEL = "amazon.titan-embed-text-v2:0"
TEST_COHERE_MODEL = "cohere.embed-english-v3"
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.coral.service/"

# Access keys handed out by `connector()`, with their secrets, so any FakeBedrock can verify them.
_ISSUED: dict[str, str] = {}


def access_key_for(secret: str) -> str:
    """A stable test access key id for `secret` (AKIA + 16 hex digits of its hash), remembered so that
    a FakeBedrock without explicit credentials accepts requests signed with this pair."""
    key = "AKIA" + hashlib.sha256(secret.encode()).hexdigest()[:16].upper()
    _ISSUED[key] = secret
    return key


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a connector aimed at a FakeBedrock on `base_url`: an
    Anthropic model for chat/completion, Titan v2 for text_embedding; `secret` is the secret key."""
    if task_type == "text_embedding":
        config: dict[str, Any] = {"provider": "amazontitan", "model": TEST_TITAN_MODEL}
    else:
        config = {"provider": "anthropic", "model": TEST_CHAT_MODEL}
    config.update(region=TEST_REGION, url=base_url)
    return config, {"access_key": access_key_for(secret), "secret_key": secret}


# ---------------------------------------------------------------------------------------------
# Event-stream encoding (the framing botocore's EventStreamBuffer decodes)

_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def encode_header(name: str, type_code: int, value: Any = None) -> bytes:
    """One header: `[name_len u8][name][type u8][value]`; bytes/strings carry a u16 length, uuids
    are 16 raw bytes, booleans (types 0 and 1) have no value."""
    raw_name = name.encode()
    out = struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">B", type_code)
    if type_code in (0, 1):
        return out
    if type_code in _FIXED:
        return out + struct.pack(_FIXED[type_code], value)
    if type_code in (6, 7):
        data = value.encode() if isinstance(value, str) else bytes(value)
        return out + struct.pack(">H", len(data)) + data
    if type_code == 9:
        data = value.bytes if isinstance(value, uuid.UUID) else bytes(value)
        if len(data) != 16:
            raise ValueError("a uuid header value is 16 bytes")
        return out + data
    raise ValueError(f"unknown event-stream header type {type_code}")


def encode_message(headers: Sequence[tuple[str, int, Any]], payload: bytes = b"") -> bytes:
    """One message: prelude (total length, headers length, CRC32 of those 8 bytes), headers,
    payload, and the CRC32 of everything before it."""
    header_bytes = b"".join(encode_header(*h) for h in headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + header_bytes + payload
    return head + struct.pack(">I", zlib.crc32(head))


# Real Bedrock events carry a random-length padding field `p` (wire.md [U]); clients ignore it.
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def event_message(event_type: str, body: Mapping[str, Any], *, padding: bool = True) -> bytes:
    """A ConverseStream event (`:message-type` event) with `body` as its JSON payload."""
    payload = dict(body)
    if padding:
        payload["p"] = _PADDING[: 1 + len(event_type) * 2 % len(_PADDING)]
    return encode_message(
        [
            (":event-type", 7, event_type),
            (":content-type", 7, "application/json"),
            (":message-type", 7, "event"),
        ],
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def exception_message(exception_type: str, message: str) -> bytes:
    """A modelled exception inside the stream (e.g. `throttlingException`), payload `{"message"}`."""
    return encode_message(
        [
            (":exception-type", 7, exception_type),
            (":content-type", 7, "application/json"),
            (":message-type", 7, "exception"),
        ],
        json.dumps({"message": message}).encode(),
    )


def error_message(code: str, message: str) -> bytes:
    """An unmodelled stream error: code and text in headers, no payload."""
    return encode_message(
        [(":error-code", 7, code), (":error-message", 7, message), (":message-type", 7, "error")]
    )


def converse_stream_messages(
    pieces: Sequence[str],
    *,
    stop_reason: str = "end_turn",
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> list[bytes]:
    """The framed events of one ConverseStream answer: text `pieces` in content block 0, then each
    tool call `(toolUseId, name, input_fragments)` in its own block, messageStop, metadata."""
    out = [event_message("messageStart", {"role": "assistant"})]
    block = 0
    if pieces:
        for piece in pieces:
            out.append(event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
        out.append(event_message("contentBlockStop", {"contentBlockIndex": 0}))
        block = 1
    for tool_id, name, fragments in tool_calls:
        start = {"toolUse": {"toolUseId": tool_id, "name": name}}
        out.append(event_message("contentBlockStart", {"contentBlockIndex": block, "start": start}))
        for fragment in fragments:
            delta = {"toolUse": {"input": fragment}}
            out.append(event_message("contentBlockDelta", {"contentBlockIndex": block, "delta": delta}))
        out.append(event_message("contentBlockStop", {"contentBlockIndex": block}))
        block += 1
    out.append(event_message("messageStop", {"stopReason": stop_reason}))
    usage = {
        "inputTokens": prompt_tokens,
        "outputTokens": completion_tokens,
        "totalTokens": prompt_tokens + completion_tokens,
    }
    out.append(event_message("metadata", {"usage": usage, "metrics": {"latencyMs": 42}}))
    return out


def _request_id() -> str:
    return str(uuid.uuid4())


def stream_response(
    messages: Sequence[bytes], *, chunk_size: int | None = None, abort_after: int | None = None
) -> FakeResponse:
    """A 200 ConverseStream answer sending `messages` (one per chunk, or re-cut into `chunk_size`
    byte pieces so frames straddle reads); `abort_after` drops the connection after that many chunks."""
    chunks: list[bytes] = list(messages)
    if chunk_size:
        data = b"".join(chunks)
        chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    return FakeResponse(
        status=200,
        chunks=chunks,
        abort_after=abort_after,
        headers={"x-amzn-requestid": _request_id()},
        content_type=EVENTSTREAM_CONTENT_TYPE,
    )


def converse_response(
    text: str, *, stop_reason: str = "end_turn", prompt_tokens: int = 5, completion_tokens: int = 7
) -> FakeResponse:
    """A 200 Converse answer with one text block."""
    return FakeResponse.json(
        {
            "metrics": {"latencyMs": 42},
            "output": {"message": {"content": [{"text": text}], "role": "assistant"}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": prompt_tokens,
                "outputTokens": completion_tokens,
                "totalTokens": prompt_tokens + completion_tokens,
            },
        },
        headers={"x-amzn-requestid": _request_id()},
    )


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """The deterministic vector the fake returns for `text` (values in [-1, 1))."""
    out: list[float] = []
    counter = 0
    while len(out) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend(round(b / 128.0 - 1.0, 6) for b in digest)
        counter += 1
    return out[:dimensions]


# ---------------------------------------------------------------------------------------------
# AWS error answers (rest-json: x-amzn-ErrorType header, body {"message": ...})


def aws_error(status: int, code: str, message: str, *, message_key: str = "message") -> FakeResponse:
    """An AWS JSON error: `x-amzn-ErrorType: <code>:http://internal.amazon.com/...`, body `{"message"}`
    (IAM's AccessDenied texts use `Message`)."""
    return FakeResponse.json(
        {message_key: message},
        status=status,
        headers={"x-amzn-errortype": code + ERROR_TYPE_SUFFIX, "x-amzn-requestid": _request_id()},
    )


def unrecognized_client() -> FakeResponse:
    """403 for an access key AWS does not know (langchain-ai/langchain#19677, iamlive#58)."""
    return aws_error(
        403, "UnrecognizedClientException", "The security token included in the request is invalid."
    )


_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


def invalid_signature(canonical_request: str, string_to_sign: str) -> FakeResponse:
    """403 for a wrong secret or a badly built request, with the canonical request AWS computed
    (the body Bedrock sends, as quoted in BerriAI/litellm#14763)."""
    message = (
        f"{_SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
        f"'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )
    return aws_error(403, "InvalidSignatureException", message)


def _missing_token() -> FakeResponse:
    return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def _incomplete_signature(what: str) -> FakeResponse:
    return aws_error(403, "IncompleteSignatureException", what)


def access_denied() -> FakeResponse:
    """403 for a model the account has no access to (wire.md [U] text)."""
    return aws_error(
        403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
    )


def invalid_model() -> FakeResponse:
    """400 for an unknown model id (MattJColes/lgtmaybe#70, aws-samples/amazon-bedrock-workshop#315)."""
    return aws_error(400, "ValidationException", "The provided model identifier is invalid.")


def validation_error(message: str) -> FakeResponse:
    """400 ValidationException with `message`."""
    return aws_error(400, "ValidationException", message)


def model_not_found() -> FakeResponse:
    """404 ResourceNotFoundException (mlcommons/modelbench#1654)."""
    return aws_error(404, "ResourceNotFoundException", "Model not found.")


def throttled() -> FakeResponse:
    """429 ThrottlingException; Bedrock sends no retry header (wire.md [U] text)."""
    return aws_error(429, "ThrottlingException", "Too many requests, please wait before trying again.")


def service_quota_exceeded() -> FakeResponse:
    """400 ServiceQuotaExceededException (its status per botocore's shapes)."""
    return aws_error(
        400,
        "ServiceQuotaExceededException",
        "Your request exceeds the service quota for your account. You can view your quotas at "
        "https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html. "
        "You can resubmit your request later.",
    )


def internal_server_error() -> FakeResponse:
    """500 InternalServerException."""
    return aws_error(500, "InternalServerException", "The server encountered an internal error.")


def service_unavailable() -> FakeResponse:
    """503 ServiceUnavailableException."""
    return aws_error(503, "ServiceUnavailableException", "Service is currently unavailable.")


# ---------------------------------------------------------------------------------------------
# SigV4 verification

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_OPERATION = re.compile(r"/model/(?P<model>.+)/(?P<op>converse|converse-stream|invoke)")


def _wire_path(request: RecordedRequest) -> str:
    """The path as the client sent it. FakeServer records the decoded path, so model ids are
    percent-encoded again the way botocore's serializer does (`:` -> `%3A`, `/` -> `%2F`)."""
    raw = getattr(request, "raw_path", None)
    if raw:
        return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    match = _OPERATION.fullmatch(request.path)
    if match:
        return f"/model/{quote(match['model'], safe='-_.~')}/{match['op']}"
    return quote(request.path, safe="/-_.~")


def verify_signature(
    request: RecordedRequest, *, region: str, credentials: Mapping[str, str], service: str = "bedrock"
) -> FakeResponse | None:
    """AWS's answer when `request`'s SigV4 signature does not verify (botocore recomputes it from the
    known secret for the access key it names), or None when it does."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    header = request.headers.get("authorization")
    if not header:
        return _missing_token()
    auth = _AUTH.fullmatch(header.strip())
    if auth is None:
        return _incomplete_signature(
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."
        )
    secret = credentials.get(auth["key"])
    if secret is None:
        return unrecognized_client()
    amz_date = request.headers.get("x-amz-date", "")
    signed = auth["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(auth["date"]):
        return _incomplete_signature("Authorization header requires signed 'host' and 'x-amz-date' headers.")
    host = request.headers.get("host", "")
    url = f"http://{host}{_wire_path(request)}"
    if request.query_string:
        url += "?" + request.query_string
    aws_request = AWSRequest(
        method=request.method,
        url=url,
        data=request.body,
        headers={n: request.headers.get(n, "") for n in signed},
    )
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(auth["key"], secret), service, region)
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    expected = signer.signature(string_to_sign, aws_request)
    if not hmac.compare_digest(expected, auth["signature"]):
        return invalid_signature(canonical, string_to_sign)
    return None


# ---------------------------------------------------------------------------------------------
# Body checks (Converse texts are Bedrock's as users report them; wire.md [U])

_TITAN_KEYS = frozenset({"inputText", "dimensions", "normalize", "embeddingTypes"})
_COHERE_KEYS = frozenset({"texts", "input_type", "truncate", "embedding_types", "images"})
_COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})


def _malformed(what: str) -> FakeResponse:
    return validation_error(f"Malformed input request: {what}, please reformat your input and try again.")


def _converse_problem(body: Any) -> FakeResponse | None:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return validation_error("The messages field is required and must contain at least one message.")
    previous = None
    for i, message in enumerate(body["messages"]):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return validation_error(f"messages.{i}.role must be one of user, assistant.")
        if i == 0 and role != "user":
            return validation_error(
                "A conversation must start with a user message. Try again with a conversation that starts "
                "with a user message."
            )
        if role == previous:
            return validation_error(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        previous = role
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return validation_error(f"messages.{i}.content must contain at least one content block.")
        for block in content:
            if "text" in block and not str(block["text"]).strip():
                return validation_error(
                    "The text field in the ContentBlock object at messages."
                    f"{i}.content.{content.index(block)} is blank. Add text to the text field, and try again."
                )
    config = body.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return validation_error("inferenceConfig.maxTokens must be at least 1.")
    return None


def _titan_problem(body: Any) -> FakeResponse | None:
    if not isinstance(body, dict):
        return _malformed("#: expected type: JSONObject")
    for key in body:
        if key not in _TITAN_KEYS:
            return _malformed(f"#: extraneous key [{key}] is not permitted")
    if not isinstance(body.get("inputText"), str) or not body["inputText"]:
        return _malformed("#: required key [inputText] not found")
    if "dimensions" in body and body["dimensions"] not in (256, 512, 1024):
        return _malformed(f"#/dimensions: {body['dimensions']} is not a valid enum value")
    return None


def _cohere_problem(body: Any) -> FakeResponse | None:
    if not isinstance(body, dict):
        return _malformed("#: expected type: JSONObject")
    for key in body:
        if key not in _COHERE_KEYS:
            return _malformed(f"#: extraneous key [{key}] is not permitted")
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return _malformed("#: required key [texts] not found")
    if len(texts) > 96:
        return _malformed(f"#/texts: expected maximum item count: 96, found: {len(texts)}")
    if "input_type" not in body:
        return _malformed("#: required key [input_type] not found")
    if body["input_type"] not in _COHERE_INPUT_TYPES:
        return _malformed(f"#/input_type: {body['input_type']} is not a valid enum value")
    if "truncate" in body and body["truncate"] not in ("NONE", "START", "END"):
        return _malformed(f"#/truncate: {body['truncate']} is not a valid enum value")
    return None


# ---------------------------------------------------------------------------------------------
# The fake runtime

Answer = FakeResponse | Callable[[RecordedRequest], FakeResponse]


# ---------------------------------------------------------------------------------------------
# One answer, streamed or whole (ai_connector.testing.scenario)

_STOP_REASONS = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "guardrail_intervened",
}
# A documented block chat clients do not relay: a reasoning model's reasoning text and signature.
_REASONING = {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "c2lnbmF0dXJl"}}}


def _scenario_blocks(scenario: ChatScenario) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [_REASONING] if scenario.odd_blocks else []
    if scenario.text:
        blocks.append({"text": scenario.whole_text})
    blocks += [
        {"toolUse": {"toolUseId": c.id, "name": c.name, "input": dict(c.arguments)}}
        for c in scenario.tool_calls
    ]
    return blocks


def _scenario_usage(scenario: ChatScenario) -> dict[str, int]:
    prompt, completion = scenario.usage or (0, 0)
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


def _scenario_stop(scenario: ChatScenario) -> str:
    return str(scenario.own("amazonbedrock").get("stopReason") or _STOP_REASONS[scenario.finish])


def scenario_converse(scenario: ChatScenario) -> FakeResponse:
    """`scenario` as one Converse answer (ConverseResponse)."""
    return FakeResponse.json(
        {
            "metrics": {"latencyMs": 42},
            "output": {"message": {"content": _scenario_blocks(scenario), "role": "assistant"}},
            "stopReason": _scenario_stop(scenario),
            "usage": _scenario_usage(scenario),
        },
        headers={"x-amzn-requestid": _request_id()},
    )


def scenario_stream_messages(scenario: ChatScenario) -> list[bytes]:
    """`scenario` as ConverseStream frames it: messageStart, per block its start (tool use), deltas
    (text pieces, tool input fragments, reasoning text and signature) and stop, messageStop,
    metadata with the usage."""
    out = [event_message("messageStart", {"role": "assistant"})]
    for index, block in enumerate(_scenario_blocks(scenario)):
        deltas: list[dict[str, Any]] = []
        if "text" in block:
            deltas = [{"text": piece} for piece in scenario.text]
        elif "toolUse" in block:
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            out.append(event_message("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            deltas = [{"toolUse": {"input": f}} for f in split(json.dumps(tool["input"], ensure_ascii=False))]
        else:
            reasoning = block["reasoningContent"]["reasoningText"]
            deltas = [
                {"reasoningContent": {"text": reasoning["text"]}},
                {"reasoningContent": {"signature": reasoning["signature"]}},
            ]
        for delta in deltas:
            out.append(event_message("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        out.append(event_message("contentBlockStop", {"contentBlockIndex": index}))
    out.append(event_message("messageStop", {"stopReason": _scenario_stop(scenario)}))
    out.append(event_message("metadata", {"usage": _scenario_usage(scenario), "metrics": {"latencyMs": 42}}))
    return out


class FakeBedrock:
    """bedrock-runtime's Converse, ConverseStream and InvokeModel on a FakeServer.

    Every request's signature is verified first (`credentials`: access key -> secret; by default the
    pairs `connector()`/`access_key_for()` handed out), then the model id (`models`, when given, are
    the only ones that exist), then `override` (an answer for every call, for error tests), then the
    body. Successful answers use `reply` (Converse), `pieces`/`tool_calls`/`stop_reason` (stream) and
    `prompt_tokens`/`completion_tokens`; `chunk_size` re-cuts the stream so frames straddle reads.
    """

    def __init__(
        self,
        server: FakeServer,
        *,
        region: str = TEST_REGION,
        credentials: Mapping[str, str] | None = None,
        models: Sequence[str] | None = None,
    ) -> None:
        self.server = server
        self.region = region
        self.credentials = credentials
        self.models = None if models is None else set(models)
        self.reply = "Hello! How can I help you today?"
        self.pieces: Sequence[str] = ("Hello", "! How can I", " help you today?")
        self.tool_calls: Sequence[tuple[str, str, Sequence[str]]] = ()
        self.stop_reason = "end_turn"
        self.prompt_tokens = 5
        self.completion_tokens = 7
        self.chunk_size: int | None = None
        self.embedding_dimensions = 1024
        self.override: Answer | None = None
        self.scenario: ChatScenario | None = None  # when set, Converse and ConverseStream answer it
        server.add("POST", _OPERATION.pattern, self.handle)

    def handle(self, request: RecordedRequest) -> FakeResponse:
        """Answer one recorded request as bedrock-runtime would."""
        match = _OPERATION.fullmatch(request.path)
        assert match is not None
        refused = verify_signature(
            request, region=self.region, credentials=_ISSUED if self.credentials is None else self.credentials
        )
        if refused is not None:
            return refused
        model, operation = match["model"], match["op"]
        if self.models is not None and model not in self.models:
            return invalid_model()
        if self.override is not None:
            return self.override if isinstance(self.override, FakeResponse) else self.override(request)
        if request.headers.get("content-type") != "application/json":
            return validation_error("The request's Content-Type must be application/json.")
        try:
            body = json.loads(request.body)
        except ValueError:
            return validation_error("The request body is not valid JSON.")
        if operation == "invoke":
            return self._invoke(model, body)
        problem = _converse_problem(body)
        if problem is not None:
            return problem
        if self.scenario is not None:
            if operation == "converse":
                return scenario_converse(self.scenario)
            return stream_response(scenario_stream_messages(self.scenario), chunk_size=self.chunk_size)
        if operation == "converse":
            return self._converse(body)
        return stream_response(
            converse_stream_messages(
                self.pieces,
                stop_reason=self.stop_reason,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                tool_calls=self.tool_calls,
            ),
            chunk_size=self.chunk_size,
        )

    def _converse(self, body: dict[str, Any]) -> FakeResponse:
        max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
        words = self.reply.split(" ")
        if max_tokens is not None and max_tokens < len(words):
            text = " ".join(words[:max_tokens])
            return converse_response(
                text, stop_reason="max_tokens", prompt_tokens=self.prompt_tokens, completion_tokens=max_tokens
            )
        return converse_response(
            self.reply,
            stop_reason=self.stop_reason,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )

    def _invoke(self, model: str, body: Any) -> FakeResponse:
        headers = {
            "x-amzn-requestid": _request_id(),
            "x-amzn-bedrock-invocation-latency": "42",
        }
        if model.startswith("cohere.") or "cohere" in model:
            problem = _cohere_problem(body)
            if problem is not None:
                return problem
            texts = body["texts"]
            headers["x-amzn-bedrock-input-token-count"] = str(sum(len(t.split()) for t in texts))
            answer = {
                "embeddings": [fake_embedding(t, self.embedding_dimensions) for t in texts],
                "id": _request_id(),
                "response_type": "embeddings_floats",
                "texts": texts,
            }
            return FakeResponse.json(answer, headers=headers)
        problem = _titan_problem(body)
        if problem is not None:
            return problem
        tokens = len(body["inputText"].split())
        headers["x-amzn-bedrock-input-token-count"] = str(tokens)
        vector = fake_embedding(body["inputText"], body.get("dimensions") or self.embedding_dimensions)
        return FakeResponse.json({"embedding": vector, "inputTextTokenCount": tokens}, headers=headers)


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Routes streaming `pieces` from ConverseStream (stop reason end_turn -> "stop") with that usage,
    for connectors made by `connector()`."""
    fake = FakeBedrock(server)
    fake.pieces = tuple(pieces)
    fake.prompt_tokens = prompt_tokens
    fake.completion_tokens = completion_tokens
    fake.reply = "".join(pieces)


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing amazonbedrock --port N` serves one.
FAKE = fake_class(
    "amazonbedrock",
    install=lambda server, key: FakeBedrock(server),
    connector=connector,
    serve_chat=serve_chat,
)
