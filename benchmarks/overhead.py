"""What the host adds to an LLM call: one run, every figure a ratio against raw clients.

    .venv/bin/python benchmarks/overhead.py [--seconds 1.5]

A local OpenAI-wire server (`_fake_openai.py`, uvicorn, in its own process) answers a fixed small
response and a 21-chunk stream. The same request (the body the OpenAI plugin sends: streamed, with
usage) is measured at concurrency 1 and 16 through:

  (a)  raw aiohttp                       the practical limit for Python here
  (b)  raw httpx, default transport
  (b') raw httpx over the runtime's aiohttp transport (what httpx's API itself costs)
  (c)  a saved connector via the Python API (`ConnectorService`: store lookup, secret decryption,
       validation, rate limiter, retry wrapper, SSE parsing, Kibana aggregation / chunk rendering)
  (c') the Runtime alone on a validated connector (c without the store), for each transport
  (c-) (c) with the execution log off, and (c+) with the Prometheus and OpenTelemetry exports on
       (the OpenTelemetry API's default no-op providers): what recording each execution costs
  (d)  `ai-connector serve` over HTTP (`POST /api/actions/connector/{id}/_execute`)
  (e)  litellm.acompletion, when installed

Printed: requests/s, p50/p99 latency, for streams the time to the first chunk and the cost per
chunk, and every ratio against (a). The issue's goals: (c) >= 0.8x (a) req/s at concurrency 16;
<= 0.3 ms added p50 at concurrency 1; streaming <= 20 us per chunk and <= 0.5 ms to the first
chunk; (d) <= 1 ms added p50 at concurrency 1. Nothing is asserted (a benchmark, not a test); the
run is bounded (about a minute with the default --seconds).

The connectors set `rate_limit.requests_per_minute` very high: OpenAI's default (500 a minute)
would otherwise be what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
API_KEY = "sk-bench-0000000000000000"
SERVE_KEY = "bench-api-key-0123456789"
ENCRYPTION_KEY = "bench-encryption-key-0123456789abcdef"
STREAM_CHUNKS = 21
HIGH_RPM = 100_000_000

Call = Callable[[], Awaitable[float | None]]  # returns the time to the first chunk, if it streams


@dataclass
class Result:
    name: str
    concurrency: int
    kind: str
    requests: int
    rps: float
    p50: float
    p99: float
    ttfc50: float | None = None
    note: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # 127.0.0.1 only
                if r.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # up, if only to refuse an unauthenticated call
                return
            time.sleep(0.05)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(name: str, kind: str, call: Call, concurrency: int, seconds: float) -> Result:
    """Run `call` from `concurrency` workers for `seconds` (after a short warm-up)."""
    warm_until = time.perf_counter() + min(0.3, seconds / 4)
    while time.perf_counter() < warm_until:
        await call()
    latencies: list[float] = []
    firsts: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            first = await call()
            latencies.append(time.perf_counter() - start)
            if first is not None:
                firsts.append(first - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(
        name,
        concurrency,
        kind,
        len(latencies),
        len(latencies) / elapsed,
        statistics.median(latencies),
        pct(latencies, 0.99),
        statistics.median(firsts) if firsts else None,
    )


# -- the clients --------------------------------------------------------------------------------------


def request_body(model: str) -> bytes:
    """The body the OpenAI plugin sends for one user message."""
    from ai_connector.openai_kit import chat_request_to_openai
    from ai_connector.types import ChatRequest

    req = ChatRequest(messages=({"role": "user", "content": "Hello world"},))
    return json.dumps(chat_request_to_openai(req, model=model)).encode()


def raw_aiohttp(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool) -> Call:
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}

    async def call() -> float | None:
        async with session.post(url, data=body, headers=headers) as resp:
            if not stream:
                await resp.read()
                return None
            first = None
            async for _ in resp.content.iter_any():
                if first is None:
                    first = time.perf_counter()
            return first

    return call


def raw_httpx(client: httpx.AsyncClient, url: str, body: bytes, stream: bool) -> Call:
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}

    async def call() -> float | None:
        if not stream:
            await client.post(url, content=body, headers=headers)
            return None
        first = None
        async with client.stream("POST", url, content=body, headers=headers) as resp:
            async for _ in resp.aiter_bytes():
                if first is None:
                    first = time.perf_counter()
        return first

    return call


def params(model: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "Hello world"}]}
    if model:
        body["model"] = model
    return {"body": body}


def via_service(service: Any, connector_id: str, stream: bool) -> Call:
    if not stream:
        p = params(None)

        async def call() -> float | None:
            out = await service.execute(connector_id, "unified_completion", p)
            if out["status"] != "ok":
                raise RuntimeError(out)
            return None

        return call
    p = params("bench-stream")

    async def call_stream() -> float | None:
        first = None
        n = 0
        async for _ in service.stream(connector_id, p):
            n += 1
            if first is None:
                first = time.perf_counter()
        if n != STREAM_CHUNKS:
            raise RuntimeError(f"got {n} chunks")
        return first

    return call_stream


def via_runtime(runtime: Any, connector: Any, stream: bool) -> Call:
    if not stream:
        p = params(None)

        async def call() -> float | None:
            await runtime.execute(connector, "unified_completion", p)
            return None

        return call
    p = params("bench-stream")

    async def call_stream() -> float | None:
        first = None
        async for _ in runtime.stream(connector, p):
            if first is None:
                first = time.perf_counter()
        return first

    return call_stream


def via_serve(session: aiohttp.ClientSession, base: str, connector_id: str, stream: bool) -> Call:
    url = f"{base}/api/actions/connector/{connector_id}/_execute"
    headers = {"authorization": f"ApiKey {SERVE_KEY}", "kbn-xsrf": "true", "content-type": "application/json"}
    sub = "unified_completion_stream" if stream else "unified_completion"
    body = json.dumps(
        {"params": {"subAction": sub, "subActionParams": params("bench-stream" if stream else None)}}
    )

    async def call() -> float | None:
        async with session.post(url, data=body, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"serve answered {resp.status}: {await resp.text()}")
            if not stream:
                await resp.read()
                return None
            first = None
            async for _ in resp.content.iter_any():
                if first is None:
                    first = time.perf_counter()
            return first

    return call


def connector_document(base: str) -> dict[str, Any]:
    return {
        "name": "bench",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": "bench-openai",
            "providerConfig": {
                "model_id": "bench-small",
                "url": base + "/v1/chat/completions",
                "rate_limit.requests_per_minute": HIGH_RPM,
            },
        },
        "secrets": {"providerSecrets": {"api_key": API_KEY}},
    }


# -- the run --------------------------------------------------------------------------------------------


async def run(seconds: float, home: Path, base: str, serve_base: str | None, serve_note: str) -> list[Result]:
    from ai_connector.manager import default_registry
    from ai_connector.runtime import Runtime, RuntimeSettings
    from ai_connector.validation import validate_connector

    results: list[Result] = []
    registry = default_registry()
    url = base + "/v1/chat/completions"
    small, streamed = request_body("bench-small"), request_body("bench-stream")
    doc = connector_document(base)
    validated = validate_connector(doc, registry, connector_id="bench-direct")

    async def both(name: str, make: Callable[[bool], Call], note: str = "") -> None:
        for kind, stream in (("small", False), ("stream", True)):
            call = make(stream)
            for conc in (1, 16):
                r = await measure(name, kind, call, conc, seconds)
                r.note = note
                results.append(r)

    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        await both("(a) raw aiohttp", lambda s: raw_aiohttp(session, url, streamed if s else small, s))
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits) as client:
            await both("(b) raw httpx", lambda s: raw_httpx(client, url, streamed if s else small, s))
        from ai_connector.runtime.transport import AiohttpTransport

        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            await both(
                "(b') raw httpx, aiohttp tr.", lambda s: raw_httpx(client, url, streamed if s else small, s)
            )

        variants = (
            ("(c) ConnectorService", "service", {}),
            ("(c-) ConnectorService, no log", "service-nolog", {"AI_CONNECTOR_EXECUTION_LOG": "false"}),
            (
                "(c+) ConnectorService, exports",
                "service-exports",
                {"AI_CONNECTOR_METRICS": "prometheus,otel"},
            ),
        )
        for name, subdir, env in variants:
            service = await open_service(home / subdir, registry, env)
            if service is None:
                results.append(Result(name, 0, "-", 0, 0, 0, 0, note="skipped: not available"))
                continue
            created = await service.create(doc)
            try:
                # warm up (caches, the log's first write) so the order of the variants does not count
                await measure(name, "small", via_service(service, created["id"], False), 1, min(0.5, seconds))
                await both(name, lambda s, svc=service, cid=created["id"]: via_service(svc, cid, s))
            finally:
                await service.aclose()

        for transport in ("aiohttp", "httpx"):
            async with Runtime(registry, RuntimeSettings(transport=transport)) as runtime:
                await both(f"(c') Runtime [{transport}]", lambda s, rt=runtime: via_runtime(rt, validated, s))

        if serve_base is not None:
            connector_id = await create_over_http(session, serve_base, doc)
            await both("(d) ai-connector serve", lambda s: via_serve(session, serve_base, connector_id, s))
        else:
            results.append(Result("(d) ai-connector serve", 0, "-", 0, 0, 0, 0, note=serve_note))

    try:
        import litellm  # noqa: F401
    except ImportError:
        results.append(Result("(e) litellm", 0, "-", 0, 0, 0, 0, note="skipped: litellm is not installed"))
    else:
        await both("(e) litellm", lambda s: via_litellm(base, s))
    return results


def via_litellm(base: str, stream: bool) -> Call:  # pragma: no cover - litellm is not installed here
    import litellm

    kwargs = {
        "model": "openai/bench-stream" if stream else "openai/bench-small",
        "api_base": base + "/v1",
        "api_key": API_KEY,
        "messages": [{"role": "user", "content": "Hello world"}],
        "stream": True,
    }

    async def call() -> float | None:
        first = None
        async for _ in await litellm.acompletion(**kwargs):
            if first is None:
                first = time.perf_counter()
        return first if stream else None

    return call


async def open_service(home: Path, registry: Any, env: dict[str, str]) -> Any:
    try:
        from ai_connector.host.service import ConnectorService
        from ai_connector.host.settings import HostSettings
    except ImportError:
        return None
    settings = HostSettings.load(env=service_env(home))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the execution log's settings are read from the environment at open
    try:
        return await ConnectorService.open(settings, registry=registry)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def service_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "AI_CONNECTOR_HOME": str(home),
        "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "AI_CONNECTOR_LICENSE": "enterprise",
        "AI_CONNECTOR_API_KEYS": f"{SERVE_KEY}:all",
    }


async def create_over_http(session: aiohttp.ClientSession, base: str, doc: dict[str, Any]) -> str:
    headers = {"authorization": f"ApiKey {SERVE_KEY}", "kbn-xsrf": "true"}
    body = {k: v for k, v in doc.items()}
    async with session.post(f"{base}/api/actions/connector", json=body, headers=headers) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"create over HTTP failed: {resp.status} {data}")
        return data["id"]


def start_serve(home: Path) -> tuple[subprocess.Popen[bytes] | None, str | None, str]:
    exe = Path(sys.executable).with_name("ai-connector")
    if not exe.exists():
        return None, None, "skipped: the ai-connector command is not installed"
    port = free_port()
    env = {**os.environ, **service_env(home / "serve")}
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/actions/connector_types", 30)
    except RuntimeError:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
        return None, None, f"skipped: serve did not start ({err.strip()})"
    return proc, base, ""


def report(results: list[Result]) -> None:
    def find(prefix: str, kind: str, conc: int) -> Result | None:
        return next(
            (r for r in results if r.name.startswith(prefix) and r.kind == kind and r.concurrency == conc),
            None,
        )

    head = f"{'client':28} {'kind':6} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'1st ms':>7}"
    print(head + f" {'x (a)':>6}")
    for r in results:
        if r.requests == 0:
            print(f"{r.name:28} {r.note}")
            continue
        base = find("(a)", r.kind, r.concurrency)
        ratio = f"{r.rps / base.rps:6.2f}" if base else ""
        first = f"{r.ttfc50 * 1e3:7.3f}" if r.ttfc50 is not None else ""
        print(
            f"{r.name:28} {r.kind:6} {r.concurrency:>4} {r.rps:>9.0f} {r.p50 * 1e3:>8.3f} "
            f"{r.p99 * 1e3:>8.3f} {first:>7} {ratio}"
        )
    print()
    a1, a16 = find("(a)", "small", 1), find("(a)", "small", 16)
    as1 = find("(a)", "stream", 1)
    for prefix in (
        "(b)",
        "(b')",
        "(c)",
        "(c-)",
        "(c+)",
        "(c') Runtime [aiohttp]",
        "(c') Runtime [httpx]",
        "(d)",
        "(e)",
    ):
        c1, c16, cs1 = find(prefix, "small", 1), find(prefix, "small", 16), find(prefix, "stream", 1)
        if not (c1 and c16 and cs1 and a1 and a16 and as1):
            continue
        added = (c1.p50 - a1.p50) * 1e3
        # after the first chunk: what reading and rendering each further chunk adds
        after = (cs1.p50 - (cs1.ttfc50 or 0)) - (as1.p50 - (as1.ttfc50 or 0))
        per_chunk = after / (STREAM_CHUNKS - 1) * 1e6
        first = ((cs1.ttfc50 or 0) - (as1.ttfc50 or 0)) * 1e3
        print(
            f"{c1.name:28} c16 throughput {c16.rps / a16.rps:5.2f}x (a) [goal >= 0.8 for (c)]; "
            f"c1 added p50 {added:+.3f} ms [<= 0.3]; stream {per_chunk:+.1f} us/chunk [<= 20], "
            f"first chunk {first:+.3f} ms [<= 0.5]"
        )
    c1, off1, on1 = find("(c)", "small", 1), find("(c-)", "small", 1), find("(c+)", "small", 1)
    c16, off16 = find("(c)", "small", 16), find("(c-)", "small", 16)
    if c1 and off1 and c16 and off16:
        print(
            f"execution log: added p50 at c1 {(c1.p50 - off1.p50) * 1e3:+.3f} ms, "
            f"c16 throughput {c16.rps / off16.rps:.2f}x without it"
        )
    if c1 and on1:
        print(f"exports on: added p50 at c1 {(on1.p50 - c1.p50) * 1e3:+.3f} ms")
    d1 = find("(d)", "small", 1)
    if c1 and d1:
        print(f"(d) over (c): added p50 at c1 {(d1.p50 - c1.p50) * 1e3:+.3f} ms [goal: (d) adds <= 1 ms]")
    if a1 and d1:
        print(f"(d) over (a): added p50 at c1 {(d1.p50 - a1.p50) * 1e3:+.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per scenario")
    parser.add_argument("--no-serve", action="store_true", help="skip (d)")
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)])
    serve: subprocess.Popen[bytes] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        with tempfile.TemporaryDirectory(prefix="ai-connector-bench-") as tmp:
            home = Path(tmp)
            serve_base, note = None, "skipped: --no-serve"
            if not args.no_serve:
                serve, serve_base, note = start_serve(home)
            started = time.perf_counter()
            results = asyncio.run(run(args.seconds, home, base, serve_base, note))
            took = time.perf_counter() - started
            print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; measured in {took:.0f}s")
            report(results)
    finally:
        for proc in (serve, server):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
