"""What OpenAI's routes cost on `serve`: `/v1/chat/completions` against `_execute` and a minimal relay.

    .venv/bin/python benchmarks/openai_route.py [--rounds 7] [--seconds 1.0] [--concurrency 16]

One local OpenAI-wire fake (`_fake_openai.py`, its own process) answers every contender. Three
contenders, each in its own process, are called with the same chat, plain and streamed:

  openai    `ai-connector serve`: POST /v1/chat/completions {model: <connector id>, messages}
  execute   the same `serve`: POST /api/actions/connector/{id}/_execute (unified_completion[_stream])
  relay     a minimal aiohttp server that forwards the same OpenAI request to the fake with an
            aiohttp client and hands back its bytes (no validation, no policy): what Python can do

Each round measures every contender for `--seconds` at `--concurrency`, in an order that rotates
from round to round (so drift on a shared machine hits all of them); the figures are the medians
over the rounds of requests/s, p50 latency and the server process's CPU time per request (from
/proc: what a route costs, much less disturbed by other load on the machine than requests/s),
and the medians of the per-round paired ratios. The goal (issue 15): the OpenAI route costs no
more than `_execute` (openai/execute >= 1.0 in requests/s, <= 1.0 in CPU per request).
Nothing is asserted: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from overhead import (  # noqa: E402  (a sibling script, not a package)
    SERVE_KEY,
    connector_document,
    create_over_http,
    free_port,
    pct,
    start_serve,
    wait_http,
)

MESSAGES = [{"role": "user", "content": "Hello"}]
Call = Callable[[], Awaitable[None]]


# -- the minimal relay (run as `openai_route.py --relay PORT UPSTREAM`) ---------------------------


def run_relay(port: int, upstream: str) -> None:
    """An aiohttp server forwarding POST /v1/chat/completions to `upstream` with one aiohttp client."""
    from aiohttp import web

    async def on_startup(app: web.Application) -> None:
        app["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def on_cleanup(app: web.Application) -> None:
        await app["client"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with request.app["client"].post(
            upstream + "/v1/chat/completions", data=body, headers={"content-type": "application/json"}
        ) as upstream_response:
            response = web.StreamResponse(
                status=upstream_response.status,
                headers={"content-type": upstream_response.headers.get("content-type", "application/json")},
            )
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                await response.write(data)
            await response.write_eof()
            return response

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/v1/chat/completions", forward)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- the contenders -------------------------------------------------------------------------------


def poster(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]) -> Call:
    data = json.dumps(body).encode()
    headers = {**headers, "content-type": "application/json"}

    async def call() -> None:
        async with session.post(url, data=data, headers=headers) as resp:
            payload = await resp.read()
            if resp.status != 200 or b'"error"' in payload[:200] or b'"status":"error"' in payload:
                raise RuntimeError(f"{url} answered {resp.status}: {payload[:300]!r}")

    return call


def contenders(
    session: aiohttp.ClientSession, serve: str, relay: str, ids: dict[bool, str], stream: bool
) -> dict[str, Call]:
    bearer = {"authorization": f"Bearer {SERVE_KEY}"}
    kibana = {"authorization": f"ApiKey {SERVE_KEY}", "kbn-xsrf": "true"}
    upstream_model = "bench-stream" if stream else "bench-small"
    sub = "unified_completion_stream" if stream else "unified_completion"
    return {
        "openai": poster(
            session,
            f"{serve}/v1/chat/completions",
            {"model": ids[stream], "messages": MESSAGES, "stream": stream},
            bearer,
        ),
        "execute": poster(
            session,
            f"{serve}/api/actions/connector/{ids[stream]}/_execute",
            {"params": {"subAction": sub, "subActionParams": {"body": {"messages": MESSAGES}}}},
            kibana,
        ),
        "relay": poster(
            session,
            f"{relay}/v1/chat/completions",
            {"model": upstream_model, "messages": MESSAGES, "stream": stream},
            {},
        ),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(call: Call, concurrency: int, seconds: float, pid: int) -> tuple[float, float, float]:
    """(requests/s, p50 latency in ms, server CPU ms per request) of `call` kept busy by
    `concurrency` workers for `seconds`; `pid` is the process that answers it."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    return len(latencies) / took, pct(latencies, 0.5) * 1000, cpu * 1000 / len(latencies)


async def bench(
    serve: str, relay: str, ids: dict[bool, str], pids: dict[str, int], args: argparse.Namespace
) -> None:
    rounds, seconds, concurrency = args.rounds, args.seconds, args.concurrency
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for stream in (False, True):
            calls = contenders(session, serve, relay, ids, stream)
            names = list(calls)
            for name in names:  # warm up: connections, ready-state caches, imports
                await measure(calls[name], concurrency, 0.3, pids[name])
            got: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
            for r in range(rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    got[name].append(await measure(calls[name], concurrency, seconds, pids[name]))
            kind = "streamed (21 chunks)" if stream else "plain"
            print(f"\n{kind}, concurrency {concurrency}, {rounds} rounds of {seconds:.1f}s each (medians):")
            for name in names:
                rps, p50, cpu = (statistics.median(g[i] for g in got[name]) for i in range(3))
                print(f"  {name:8} {rps:8.0f} req/s   p50 {p50:6.2f} ms   server CPU {cpu:5.2f} ms/request")
            for a, b in (("openai", "execute"), ("openai", "relay"), ("execute", "relay")):
                rps_ratio = statistics.median(x[0] / y[0] for x, y in zip(got[a], got[b], strict=True))
                cpu_ratio = statistics.median(x[2] / y[2] for x, y in zip(got[a], got[b], strict=True))
                print(f"  {a}/{b}: req/s {rps_ratio:.2f}x, CPU per request {cpu_ratio:.2f}x (paired)")


async def create_connectors(serve: str, fake: str) -> dict[bool, str]:
    """A plain and a streaming OpenAI connector aimed at the fake; {stream?: id}."""
    ids = {}
    async with aiohttp.ClientSession() as session:
        for stream, model in ((False, "bench-small"), (True, "bench-stream")):
            doc = connector_document(fake)
            doc["config"]["providerConfig"]["model_id"] = model
            doc["config"]["inferenceId"] = f"bench-{model}"
            ids[stream] = await create_over_http(session, serve, doc)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per contender per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--relay", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        run_relay(int(args.relay[0]), args.relay[1])
        return

    procs: list[subprocess.Popen[bytes]] = []
    try:
        fake_port, relay_port = free_port(), free_port()
        fake = f"http://127.0.0.1:{fake_port}"
        relay = f"http://127.0.0.1:{relay_port}"
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(fake_port)]))
        wait_http(fake + "/health")
        procs.append(subprocess.Popen([sys.executable, __file__, "--relay", str(relay_port), fake]))
        wait_http(relay + "/health")
        with tempfile.TemporaryDirectory(prefix="ai-connector-bench-") as tmp:
            proc, serve, note = start_serve(Path(tmp))
            if proc is None or serve is None:
                raise SystemExit(note)
            procs.append(proc)
            ids = asyncio.run(create_connectors(serve, fake))
            pids = {"openai": proc.pid, "execute": proc.pid, "relay": procs[1].pid}
            asyncio.run(bench(serve, relay, ids, pids, args))
    finally:
        for proc in procs:  # all at once, then wait: the three shut down in parallel
            proc.terminate()
        deadline = time.monotonic() + 10
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()


if __name__ == "__main__":
    main()
