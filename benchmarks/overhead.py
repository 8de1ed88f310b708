"""What the host adds to an LLM call: every figure a median of paired ratios over alternated rounds.

    .venv/bin/python benchmarks/overhead.py [--rounds 5] [--seconds 1.0] [--no-serve]

A local OpenAI-wire server (`_fake_openai.py`: a plain asyncio protocol on uvloop, in its own
process, so the fake is not what is measured) answers a fixed small response and a 21-chunk
stream. The same request (the body the OpenAI plugin sends) is measured at concurrency 1 and 16
through:

  (a)  raw aiohttp                       the practical limit for Python here
  (b)  raw httpx, default transport
  (b') raw httpx over the runtime's aiohttp transport (what httpx's API itself costs)
  (c)  a saved connector via the Python API (`ConnectorService`: ready state, rate limiter, retry
       wrapper, SSE parsing, Kibana aggregation / chunk rendering)
  (c') the Runtime alone on a validated connector (c without the store), for each transport
  (c-) (c) with the execution log off, and (c+) with the Prometheus and OpenTelemetry exports on
       (the OpenTelemetry API's default no-op providers): what recording each execution costs
  (r)  a minimal relay: an aiohttp server forwarding the same OpenAI request to the fake with an
       aiohttp client (no validation, no policy; `openai_route.py --relay`): what an HTTP hop in
       Python costs at all
  (d)  `ai-connector serve --workers 1` over HTTP (`POST /api/actions/connector/{id}/_execute`)
  (d0) the same app on uvicorn's pure-Python stack (asyncio loop, h11), as `serve` ran before
       uvloop and httptools were dependencies
  (p)  the openai SDK and (e) litellm, when installed (`pip install ai-connector[benchmark]`)
and, at concurrency 32 on the small answer, (d) against (d2) `serve --workers 2`.

Each round measures every contender of a scenario for `--seconds`, in an order rotating from round
to round, so drift on a shared machine hits all of them; ratios are taken within a round and the
median over rounds is reported. Goals (issue 14): (c)/(a) >= 0.8 at c16 on the stream; (d)/(r) >=
0.6 at c16; (d2)/(d) >= 1.6 at c32 where the cores allow. Nothing is asserted (a benchmark).

The connectors set `rate_limit.requests_per_minute` very high: OpenAI's default (500 a minute)
would otherwise be what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


Make = Callable[[bool], Call]  # stream? -> the call


@dataclass
class Scenario:
    kind: str  # "small" or "stream"
    concurrency: int
    names: list[str]  # the contenders measured against each other, the baseline first


async def alternate(
    makers: dict[str, Make], scenarios: list[Scenario], rounds: int, seconds: float
) -> dict[tuple[str, str, int], list[Result]]:
    """Every scenario's contenders, `rounds` times each, in an order rotating per round."""
    got: dict[tuple[str, str, int], list[Result]] = {}
    for sc in scenarios:
        calls = {name: makers[name](sc.kind == "stream") for name in sc.names}
        for name, call in calls.items():  # warm-up: connections, ready states, imports
            await measure(name, sc.kind, call, sc.concurrency, min(0.3, seconds / 3))
        for r in range(rounds):
            order = sc.names[r % len(sc.names) :] + sc.names[: r % len(sc.names)]
            for name in order:
                result = await measure(name, sc.kind, calls[name], sc.concurrency, seconds)
                got.setdefault((name, sc.kind, sc.concurrency), []).append(result)
    return got


def via_relay(session: aiohttp.ClientSession, relay: str, small: bytes, streamed: bytes) -> Make:
    return lambda s: raw_aiohttp(session, relay + "/v1/chat/completions", streamed if s else small, s)


def via_openai_sdk(base: str) -> Make | None:
    """The openai SDK's async client on the same streamed request, when installed."""
    try:
        from openai import AsyncOpenAI
    except ImportError:
        return None
    client = AsyncOpenAI(base_url=base + "/v1", api_key=API_KEY, max_retries=0)

    def make(stream: bool) -> Call:
        async def call() -> float | None:
            first = None
            chunks = await client.chat.completions.create(
                model="bench-stream" if stream else "bench-small",
                messages=[{"role": "user", "content": "Hello world"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in chunks:
                if first is None:
                    first = time.perf_counter()
            return first if stream else None

        return call

    return make


def via_litellm_maker(base: str) -> Make | None:
    try:
        import litellm  # noqa: F401
    except ImportError:
        return None
    return lambda s: via_litellm(base, s)


async def run(
    args: argparse.Namespace, home: Path, base: str, serves: dict[str, str], relay: str | None
) -> tuple[dict[tuple[str, str, int], list[Result]], list[str]]:
    """Set every contender up, then alternate them; returns the results and the skipped notes."""
    from ai_connector.manager import default_registry
    from ai_connector.runtime import Runtime, RuntimeSettings
    from ai_connector.runtime.transport import AiohttpTransport
    from ai_connector.validation import validate_connector

    registry = default_registry()
    url = base + "/v1/chat/completions"
    small, streamed = request_body("bench-small"), request_body("bench-stream")
    doc = connector_document(base)
    validated = validate_connector(doc, registry, connector_id="bench-direct")
    skipped: list[str] = []
    makers: dict[str, Make] = {}
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        )
        makers["(a) raw aiohttp"] = lambda s: raw_aiohttp(session, url, streamed if s else small, s)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        plain = await stack.enter_async_context(httpx.AsyncClient(limits=limits))
        makers["(b) raw httpx"] = lambda s: raw_httpx(plain, url, streamed if s else small, s)
        over = await stack.enter_async_context(httpx.AsyncClient(transport=AiohttpTransport()))
        makers["(b') raw httpx, aiohttp tr."] = lambda s: raw_httpx(over, url, streamed if s else small, s)
        variants = (
            ("(c) ConnectorService", "service", {}),
            ("(c-) ConnectorService, no log", "service-nolog", {"AI_CONNECTOR_EXECUTION_LOG": "false"}),
            (
                "(c+) ConnectorService, exports",
                "service-exports",
                {"AI_CONNECTOR_METRICS": "prometheus,otel"},
            ),
        )
        for label, subdir, env in variants:
            service = await open_service(home / subdir, registry, env)
            stack.push_async_callback(service.aclose)
            created = await service.create(doc)
            makers[label] = lambda s, svc=service, cid=created["id"]: via_service(svc, cid, s)
        for transport in ("aiohttp", "httpx"):
            rt = await stack.enter_async_context(Runtime(registry, RuntimeSettings(transport=transport)))
            makers[f"(c') Runtime [{transport}]"] = lambda s, rt=rt: via_runtime(rt, validated, s)
        if relay is not None:
            makers["(r) aiohttp relay"] = via_relay(session, relay, small, streamed)
        for label, serve_base in serves.items():
            cid = await create_over_http(session, serve_base, doc)
            makers[label] = lambda s, b=serve_base, c=cid: via_serve(session, b, c, s)
        for label, peer in (
            ("(p) openai SDK", via_openai_sdk(base)),
            ("(e) litellm", via_litellm_maker(base)),
        ):
            if peer is None:
                skipped.append(f"{label}: skipped, not installed (pip install 'ai-connector[benchmark]')")
            else:
                makers[label] = peer
        main = [n for n in makers if n != SERVE2]
        scenarios = [Scenario(kind, conc, main) for kind in ("small", "stream") for conc in (1, 16)]
        if SERVE2 in makers:
            pair = [n for n in (SERVE1, SERVE2, "(r) aiohttp relay") if n in makers]
            scenarios.append(Scenario("small", 32, pair))
        return await alternate(makers, scenarios, args.rounds, args.seconds), skipped


SERVE1, SERVE2 = "(d) serve --workers 1", "(d2) serve --workers 2"
SERVE0 = "(d0) serve, asyncio + h11"


def start_plain_serve(home: Path) -> tuple[subprocess.Popen[bytes] | None, str | None, str]:
    """The serve app on uvicorn with the asyncio loop and h11 (uvicorn's own command line)."""
    port = free_port()
    env = {**os.environ, **service_env(home), "AI_CONNECTOR_WORKERS": "1"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "ai_connector.api.serving:worker_app"]
    command += ["--loop", "asyncio", "--http", "h11", "--no-server-header", "--log-level", "warning"]
    proc = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/actions/connector_types", 30)
    except RuntimeError:
        proc.kill()
        return None, None, "skipped: did not start"
    return proc, base, ""


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


async def open_service(home: Path, registry: Any, env: dict[str, str] | None = None) -> Any:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings

    settings = HostSettings.load(env=service_env(home))
    env = env or {}
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


def start_serve(home: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes] | None, str | None, str]:
    exe = Path(sys.executable).with_name("ai-connector")
    if not exe.exists():
        return None, None, "skipped: the ai-connector command is not installed"
    port = free_port()
    env = {**os.environ, **service_env(home / "serve")}
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--log-level", "warning", "--workers", str(workers)],
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


def report(got: dict[tuple[str, str, int], list[Result]], skipped: list[str]) -> None:
    def med(values: Any) -> float:
        return statistics.median(list(values))

    def paired(x: str, y: str, kind: str, conc: int) -> float | None:
        xs, ys = got.get((x, kind, conc)), got.get((y, kind, conc))
        if not xs or not ys:
            return None
        return med(a.rps / b.rps for a, b in zip(xs, ys, strict=True))

    base = "(a) raw aiohttp"
    head = f"{'client':30} {'kind':6} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(head + f" {'1st ms':>7} {'x (a)':>6}")
    for (name, kind, conc), rs in got.items():
        first = [r.ttfc50 for r in rs if r.ttfc50 is not None]
        ratio = paired(name, base, kind, conc)
        print(
            f"{name:30} {kind:6} {conc:>4} {med(r.rps for r in rs):>8.0f} "
            f"{med(r.p50 for r in rs) * 1e3:>8.3f} "
            f"{med(r.p99 for r in rs) * 1e3:>8.3f} {(med(first) * 1e3 if first else float('nan')):>7.3f} "
            f"{'' if ratio is None else f'{ratio:6.2f}'}"
        )
    for note in skipped:
        print(note)
    print("\nmedians of paired per-round ratios:")
    for name in dict.fromkeys(n for n, _, _ in got):
        if name == base or (name, "small", 1) not in got:
            continue
        a1, c1 = got[(base, "small", 1)], got[(name, "small", 1)]
        added = med((c.p50 - a.p50) * 1e3 for a, c in zip(a1, c1, strict=True))
        as1, cs1 = got[(base, "stream", 1)], got[(name, "stream", 1)]
        per_chunk = med(
            ((c.p50 - (c.ttfc50 or 0)) - (a.p50 - (a.ttfc50 or 0))) / (STREAM_CHUNKS - 1) * 1e6
            for a, c in zip(as1, cs1, strict=True)
        )
        print(
            f"  {name:30} c16 {paired(name, base, 'small', 16):5.2f}x (a) small, "
            f"{paired(name, base, 'stream', 16):5.2f}x (a) stream; c1 added p50 {added:+.3f} ms; "
            f"stream {per_chunk:+.1f} us/chunk"
        )
    relay = "(r) aiohttp relay"
    for kind in ("small", "stream"):
        ratio = paired(SERVE1, relay, kind, 16)
        if ratio is not None:
            print(f"  {SERVE1} / {relay}, c16 {kind}: {ratio:.2f}x [goal >= 0.6]")
        ratio = paired(SERVE0, relay, kind, 16)
        if ratio is not None:
            print(f"  {SERVE0} / {relay}, c16 {kind}: {ratio:.2f}x (before uvloop and httptools)")
    ratio = paired(SERVE2, SERVE1, "small", 32)
    if ratio is not None:
        print(f"  {SERVE2} / {SERVE1}, c32 small: {ratio:.2f}x [goal >= 1.6 where the cores allow]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per contender per round")
    parser.add_argument("--no-serve", action="store_true", help="skip (r), (d) and (d2)")
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)]))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        with tempfile.TemporaryDirectory(prefix="ai-connector-bench-") as tmp:
            home = Path(tmp)
            serves: dict[str, str] = {}
            relay = None
            if not args.no_serve:
                relay_port = free_port()
                relay_script = str(HERE / "openai_route.py")
                procs.append(
                    subprocess.Popen([sys.executable, relay_script, "--relay", str(relay_port), base])
                )
                relay = f"http://127.0.0.1:{relay_port}"
                wait_http(relay + "/health")
                starts = (
                    (SERVE0, lambda: start_plain_serve(home / "d0")),
                    (SERVE1, lambda: start_serve(home / "d1", 1)),
                    (SERVE2, lambda: start_serve(home / "d2", 2)),
                )
                for label, start in starts:
                    proc, serve_base, note = start()
                    if proc is None or serve_base is None:
                        print(f"{label}: {note}")
                        continue
                    procs.append(proc)
                    serves[label] = serve_base
            started = time.perf_counter()
            got, skipped = asyncio.run(run(args, home, base, serves, relay))
            took = time.perf_counter() - started
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs shared by the client, the fake, "
                f"the relay and the servers; load average {load:.1f}; {args.rounds} rounds of "
                f"{args.seconds:.1f}s; measured in {took:.0f}s"
            )
            report(got, skipped)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
