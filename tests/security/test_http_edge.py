"""The HTTP edge of a real `ai-connector serve`: request bodies over Kibana's `server.maxPayload` are
refused with hapi's 413 before they are read, deep JSON is a 400, one Authorization header only,
and every answer carries the browser security headers."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from served_host import ALL_KEY, ServedHost

MB = 1024 * 1024
DECLARED = 200 * MB  # what each hostile client claims (and would send) as its body
EXECUTE = "/api/actions/connector/some-id/_execute"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def post_streaming(port: int, path: str, *, chunked: bool) -> tuple[int, dict | None, int]:
    """POST a 200 MB body piece by piece; stop when the answer arrives.

    Returns (status, JSON body, bytes of body sent before the answer came).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {DECLARED}"
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: ApiKey {ALL_KEY}\r\n"
            f"kbn-xsrf: true\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        ).encode()
    )

    async def answer() -> tuple[int, dict | None]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        status = int(lines[0].split()[1])
        try:
            body = await reader.readexactly(int(headers["content-length"]))
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server closed with the client's unread upload in its buffer: TCP answers that with a
            # reset, which can discard the rest of the answer in flight (RFC 9112 9.6's lingering close
            # is what would avoid it). The status line had already arrived.
            return status, None
        return status, json.loads(body)

    got = asyncio.ensure_future(answer())
    if not chunked:
        # A declared length over the cap is refused from the headers alone: no body byte is sent.
        await asyncio.wait([got], timeout=30)
    piece = b'{"params":{"subAction":"x","subActionParams":{"text":"' + b"a" * (64 * 1024)
    sent = 0
    try:
        while sent < DECLARED and not got.done():
            data = piece if not chunked else b"%x\r\n%s\r\n" % (len(piece), piece)
            writer.write(data)
            try:
                await asyncio.wait_for(writer.drain(), timeout=0.5)
            except TimeoutError:
                continue  # the server stopped reading: its answer is on the way
            sent += len(piece)
            piece = b"a" * (64 * 1024)
    except (ConnectionError, OSError):
        pass  # the server closed the connection after answering
    status, body = await asyncio.wait_for(got, timeout=60)
    writer.close()
    return status, body, sent


@pytest.mark.parametrize("path", [EXECUTE, "/api/actions/connector"])
async def test_four_200mb_bodies_are_refused_with_413_before_they_are_read(tmp_path: Path, path: str) -> None:
    with ServedHost(tmp_path / "home") as host:
        before = rss_kib(host.proc.pid)  # type: ignore[union-attr]
        results = await asyncio.gather(
            *(post_streaming(host.port, path, chunked=i % 2 == 1) for i in range(4))
        )
        after = rss_kib(host.proc.pid)  # type: ignore[union-attr]
        # Kibana's core http_server.test.ts ('payload is too large'): hapi's 413 body, whole.
        expected = {
            "statusCode": 413,
            "error": "Request Entity Too Large",
            "message": "Payload content length greater than maximum allowed: 1048576",
        }
        for i, (status, body, sent) in enumerate(results):
            assert status == 413
            # A declared length is refused before any body byte is sent: the whole answer arrives.
            # A chunked upload may lose the answer's body to the reset described in `answer`.
            assert body == expected if i % 2 == 0 else body in (expected, None)
            # Answered after at most the cap plus what the sockets' buffers hold, never 200 MB.
            assert sent < 40 * MB
        assert results[0][2] == results[2][2] == 0  # declared lengths: answered before any body
        assert after - before < 64 * 1024  # KiB: the host never held the bodies
        # The host still answers everyone else.
        ok = httpx.get(host.url + "/api/actions/connectors", headers=host.headers(), timeout=30)
        assert ok.status_code == 200


async def test_the_cap_is_a_host_setting(tmp_path: Path) -> None:
    with ServedHost(tmp_path / "home", AI_CONNECTOR_MAX_PAYLOAD_BYTES="2kb") as host:
        small = httpx.post(
            host.url + "/api/actions/connector", headers=host.headers(), json={"name": "x" * 100}, timeout=30
        )
        assert small.status_code == 400  # parsed and validated: under the cap
        big = httpx.post(
            host.url + "/api/actions/connector", headers=host.headers(), json={"name": "x" * 4096}, timeout=30
        )
        assert big.status_code == 413
        assert big.json()["message"] == "Payload content length greater than maximum allowed: 2048"


def nested(depth: int) -> str:
    return '{"params":{"subAction":"run","subActionParams":' + "[" * depth + "]" * depth + "}}"


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("path", [EXECUTE, "/api/actions/connector", "/api/actions/connector/x"])
def test_deeply_nested_json_is_a_400_with_a_clear_message(served: ServedHost, path: str, depth: int) -> None:
    method = "PUT" if path.endswith("/x") else "POST"
    r = httpx.request(
        method,
        served.url + path,
        headers={**served.headers(), "content-type": "application/json"},
        content=nested(depth),
        timeout=30,
    )
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body]: JSON nested deeper than 100 levels is not accepted",
    }


def test_json_within_the_depth_limit_is_never_a_5xx(served: ServedHost) -> None:
    for path in (EXECUTE, "/api/actions/connector"):
        r = httpx.post(
            served.url + path,
            headers={**served.headers(), "content-type": "application/json"},
            content=nested(96),
            timeout=30,
        )
        assert r.status_code < 500, r.text


def test_escaped_quotes_and_brackets_inside_strings_do_not_count(served: ServedHost) -> None:
    text = '\\"' + "[" * 500 + "{" * 500 + "\\\\"
    r = httpx.post(
        served.url + "/api/actions/connector",
        headers={**served.headers(), "content-type": "application/json"},
        content='{"name": "' + text + '"}',
        timeout=30,
    )
    assert r.status_code == 400
    assert "nested" not in r.json()["message"]  # refused for its missing fields, not for depth


@pytest.mark.parametrize("path", ["/api/actions/connectors", "/v1/models"])
def test_a_duplicate_authorization_header_is_refused(served: ServedHost, path: str) -> None:
    # Both orders: whichever value a lenient parser keeps, the request is refused.
    for first, second in ((ALL_KEY, "wrong"), ("wrong", ALL_KEY)):
        r = httpx.get(
            served.url + path,
            headers=[("Authorization", f"ApiKey {first}"), ("Authorization", f"ApiKey {second}")],
            timeout=30,
        )
        assert r.status_code == 400
        assert r.json()["message"] == "Request must contain exactly one Authorization header."


PAGES = ["/", "/api/actions/connectors", "/api/openapi.json", "/api/actions/connector_types"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_the_security_headers(served: ServedHost, path: str) -> None:
    r = httpx.get(served.url + path, headers=served.headers(), timeout=30)
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_the_page_inline_scripts_are_allowed_only_by_hash(served: ServedHost) -> None:
    import base64
    import hashlib
    import re

    r = httpx.get(served.url + "/", timeout=30)
    script_src = next(
        d for d in r.headers["content-security-policy"].split("; ") if d.startswith("script-src ")
    )
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.DOTALL)
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert script_src.split()[1:2] == ["'self'"]
    assert len(script_src.split()) == 2 + len(inline)


def json_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(
    doc=st.recursive(
        st.text(alphabet='ab"\\[]{}', max_size=6) | st.integers(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text('"\\[{', max_size=3), inner, max_size=3)
        ),
        max_leaves=20,
    ),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
)
def test_the_depth_count_matches_the_parsed_depth_however_the_body_is_split(
    doc: object, cuts: list[int]
) -> None:
    from ai_connector.api.guards import JsonDepthExceeded, _DepthCounter

    text = json.dumps(doc).encode()
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    counter = _DepthCounter(3)
    try:
        for start, end in itertools.pairwise(bounds):
            counter.feed(text[start:end])
    except JsonDepthExceeded:
        assert json_depth(doc) > 3
    else:
        assert json_depth(doc) <= 3
