"""A non-streamed `unified_completion`: one whole answer (`Provider.chat_completion`) against the
stream read and aggregated (the provider without that call), through the Python API.

    .venv/bin/python benchmarks/nonstream.py [--rounds 5] [--seconds 1.0]
    .venv/bin/python benchmarks/nonstream.py --providers [--calls 200]

The fake is `_fake_openai.py` in its own process (a plain asyncio protocol): model `bench-small`
answers a short text (one content chunk streamed, or one small `chat.completion`), `bench-long` a
200-piece text (200 content chunks, one HTTP chunk each, or the same text in one answer). A saved
OpenAI connector runs on the `Runtime` (as `overhead.py`'s (c')), once as the provider is and once
without its non-streamed call. For each answer and concurrency (1 and 16) every round measures
both paths for `--seconds`, in an order alternating from round to round; the report gives each
path's median requests/s, p50 latency and client CPU per request (`time.process_time()` of this
process over the requests), and the median over rounds of the paired ratios whole/stream. Both
paths' answers are checked equal (content, finish reason; usage for the long answer: the fake's
canned short ones report different counts) before measuring. Nothing is
asserted: a benchmark.

`--providers` compares the two forms for every provider with a non-streamed call (openai's wire for
the kit, anthropic, amazonbedrock, googlevertexai, watsonxai, amazon_sagemaker): each fake's bytes
for one scenario, replayed by an in-memory transport, decoded by the Runtime; client CPU per call
(median of 5 alternated rounds). The wire is left out: a whole answer arrives when its stream would
end, so the host's own work is what tells the forms apart.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from overhead import free_port, wait_http  # noqa: E402  (a sibling script, not a package)

API_KEY = "sk-bench-0000000000000000"
MODELS = {"short": "bench-small", "long": "bench-long"}


@dataclasses.dataclass
class Figure:
    rps: float
    p50_ms: float
    cpu_us: float  # client CPU per request


async def measure(call: Callable[[], Awaitable[Any]], concurrency: int, seconds: float) -> Figure:
    """`call` from `concurrency` workers for `seconds`, after a short warm-up."""
    warm_until = time.perf_counter() + min(0.2, seconds / 4)
    while time.perf_counter() < warm_until:
        await call()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    n = len(latencies)
    return Figure(n / elapsed, statistics.median(latencies) * 1000, cpu / n * 1e6)


def connector(base: str) -> Any:
    from ai_connector.manager import default_registry
    from ai_connector.validation import validate_connector

    document = {
        "name": "bench",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": "bench-nonstream",
            "providerConfig": {
                "model_id": "bench-small",
                "url": f"{base}/v1/chat/completions",
                "rate_limit": {"requests_per_minute": 100_000_000},
            },
        },
        "secrets": {"providerSecrets": {"api_key": API_KEY}},
    }
    return validate_connector(document, default_registry(), connector_id="bench-nonstream")


async def run(base: str, rounds: int, seconds: float) -> None:
    from ai_connector.manager import default_registry
    from ai_connector.runtime import Runtime

    whole = connector(base)
    stream = dataclasses.replace(whole, provider=dataclasses.replace(whole.provider, chat_completion=None))
    paths = {"whole": whole, "stream": stream}
    got: dict[tuple[str, int, str], list[Figure]] = {}
    async with Runtime(default_registry()) as runtime:
        for answer, model in MODELS.items():
            params = {"body": {"messages": [{"role": "user", "content": "Hello world"}], "model": model}}
            results = {
                name: await runtime.execute(c, "unified_completion", params) for name, c in paths.items()
            }
            for result in results.values():
                del result["id"], result["created"]
                if answer == "short":  # the fake's canned short stream and answer report other usages
                    del result["usage"]
            if results["whole"] != results["stream"]:
                raise RuntimeError(f"the two paths differ on the {answer} answer: {results}")

            def caller(c: Any, p: dict[str, Any] = params) -> Callable[[], Awaitable[Any]]:
                return lambda: runtime.execute(c, "unified_completion", p)

            for concurrency in (1, 16):
                for r in range(rounds):
                    order = list(paths) if r % 2 == 0 else list(reversed(paths))
                    for name in order:
                        figure = await measure(caller(paths[name]), concurrency, seconds)
                        got.setdefault((answer, concurrency, name), []).append(figure)
    report(got)


def report(got: dict[tuple[str, int, str], list[Figure]]) -> None:
    med = statistics.median
    print(
        f"{'answer':6} {'conc':>4} {'path':6} {'req/s':>8} {'p50 ms':>8} {'CPU us/req':>10}   "
        "whole/stream (median of paired rounds): req/s, p50, CPU"
    )
    for (answer, conc, name), figures in got.items():
        line = (
            f"{answer:6} {conc:>4} {name:6} {med(f.rps for f in figures):>8.0f} "
            f"{med(f.p50_ms for f in figures):>8.2f} {med(f.cpu_us for f in figures):>10.0f}"
        )
        if name == "stream":
            pairs = list(zip(got[(answer, conc, "whole")], figures, strict=True))
            line += (
                f"   {med(w.rps / s.rps for w, s in pairs):.2f}x"
                f" {med(w.p50_ms / s.p50_ms for w, s in pairs):.2f}x"
                f" {med(w.cpu_us / s.cpu_us for w, s in pairs):.2f}x"
            )
        print(line)


# -- each provider's two forms, decoded by the host (--providers) ---------------------------------------
#
# The network is the same for both forms of an answer (a non-streamed answer arrives when its stream
# would end), so what tells them apart per provider is the host's work on each: this runs the Runtime
# on an in-memory httpx transport answering each provider's fake's pre-rendered bytes (rendered once
# from one scenario, then replayed), and reports client CPU per call for the whole answer and for the
# aggregated stream. The fake's own work happens once per form, outside the measure.

BASE = "http://bench.invalid"


def _fakes() -> dict[str, Callable[[Any, Any], None]]:
    import importlib

    def testing(pid: str) -> Any:
        return importlib.import_module(f"ai_connector_{pid}.testing")

    tokens: set[str] = set()  # the provider caches IAM tokens process-wide: every fake honours them

    def watsonx(server: Any, scenario: Any) -> None:
        fake = testing("watsonxai").FakeWatsonx(server, api_key=API_KEY)
        fake.tokens, fake.scenario = tokens, scenario

    def sagemaker(server: Any, scenario: Any) -> None:
        testing("amazon_sagemaker").FakeSageMaker(server, secret=API_KEY).scenario = scenario

    return {
        "openai": lambda server, sc: testing("openai").serve_scenario(server, sc, r".*/chat/completions"),
        "anthropic": lambda server, sc: testing("anthropic").serve_scenario(server, sc),
        "amazonbedrock": lambda server, sc: setattr(
            testing("amazonbedrock").FakeBedrock(server), "scenario", sc
        ),
        "googlevertexai": lambda server, sc: (
            testing("googlevertexai").FakeVertexAI(server).serve_scenario(sc)
        ),
        "watsonxai": watsonx,
        "amazon_sagemaker": sagemaker,
    }


def replaying_client(server: Any) -> Any:
    """An httpx client whose transport answers from `server`'s routes, each distinct request line
    rendered once and its bytes replayed."""
    import inspect
    import json as _json

    import httpx

    from ai_connector.testing import RecordedRequest

    cache: dict[tuple[str, str, bool], tuple[int, list[tuple[bytes, bytes]], list[bytes]]] = {}

    async def handle(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        key = (request.method, str(request.url), b'"stream":true' in body.replace(b" ", b""))
        if key not in cache:
            recorded = RecordedRequest(
                method=request.method,
                path=request.url.path,
                query_string=request.url.query.decode(),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                raw_path=request.url.raw_path.decode().split("?")[0],
            )
            handler = server._find(recorded)
            answer = handler(recorded)
            answer = await answer if inspect.isawaitable(answer) else answer
            if answer.chunks is not None:
                parts = [c.encode() if isinstance(c, str) else bytes(c) for c in answer.chunks]
            elif isinstance(answer.body, bytes | str):
                parts = [answer.body.encode() if isinstance(answer.body, str) else answer.body]
            else:
                parts = [_json.dumps(answer.body).encode()]
            cache[key] = (answer.status, answer._header_list(), parts)
        status, headers, parts = cache[key]

        async def stream() -> Any:
            for part in parts:
                yield part

        return httpx.Response(status, headers=headers, content=stream())

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def provider_costs(calls: int) -> None:
    import importlib

    from ai_connector.manager import default_registry
    from ai_connector.runtime import Runtime, RuntimeSettings
    from ai_connector.testing import FakeServer
    from ai_connector.testing.scenario import ChatScenario
    from ai_connector.validation import validate_connector

    scenarios = {
        "short": ChatScenario("short", text=("Hello! How can I help you today?",)),
        "long": ChatScenario("long", text=tuple(f"word{i} " for i in range(200))),
    }
    head = f"{'provider':16} {'answer':6} {'whole us':>9} {'stream us':>9} {'whole/stream':>12}"
    print(head + "  (client CPU per call)")
    for pid, serve in _fakes().items():
        for answer, scenario in scenarios.items():
            server = FakeServer()  # never started: its routes answer through the replaying transport
            serve(server, scenario)
            config, secrets = importlib.import_module(f"ai_connector_{pid}.testing").connector(
                BASE, "chat_completion", secret=API_KEY
            )
            if "rate_limit" in default_registry().get(pid).settings_schema["properties"]:
                config["rate_limit"] = {"requests_per_minute": 100_000_000}  # not the limiter's wait
            document = {
                "name": "bench",
                "config": {"provider": pid, "taskType": "chat_completion", "providerConfig": config},
                "secrets": {"providerSecrets": secrets},
            }
            whole = validate_connector(document, default_registry(), connector_id=f"bench-{pid}")
            stream = dataclasses.replace(
                whole, provider=dataclasses.replace(whole.provider, chat_completion=None)
            )
            settings = RuntimeSettings(provider_settings={"watsonxai": {"iam_url": f"{BASE}/identity/token"}})
            async with Runtime(default_registry(), settings, client=replaying_client(server)) as runtime:
                params = {"body": {"messages": [{"role": "user", "content": "Hello world"}]}}
                costs: dict[str, list[float]] = {"whole": [], "stream": []}
                for c in (whole, stream):  # warm-up: tokens, caches, the replay
                    await runtime.execute(c, "unified_completion", params)
                for r in range(5):
                    for name in ("whole", "stream") if r % 2 == 0 else ("stream", "whole"):
                        c = whole if name == "whole" else stream
                        cpu = time.process_time()
                        for _ in range(calls):
                            await runtime.execute(c, "unified_completion", params)
                        costs[name].append((time.process_time() - cpu) / calls * 1e6)
            w, s = statistics.median(costs["whole"]), statistics.median(costs["stream"])
            ratio = statistics.median(a / b for a, b in zip(costs["whole"], costs["stream"], strict=True))
            print(f"{pid:16} {answer:6} {w:>9.0f} {s:>9.0f} {ratio:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument(
        "--providers", action="store_true", help="each provider's two forms, decoded in memory (no wire)"
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per round with --providers")
    args = parser.parse_args()
    if args.providers:
        asyncio.run(provider_costs(args.calls))
        return
    port = free_port()
    fake = subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health")
        asyncio.run(run(base, args.rounds, args.seconds))  # the default loop, as overhead.py's clients
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
