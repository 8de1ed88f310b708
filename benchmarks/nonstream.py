"""A non-streamed `unified_completion`: one whole answer (`Provider.chat_completion`) against the
stream read and aggregated (the provider without that call), through the Python API.

    .venv/bin/python benchmarks/nonstream.py [--rounds 5] [--seconds 1.0]

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
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
API_KEY = "sk-bench-0000000000000000"
MODELS = {"short": "bench-small", "long": "bench-long"}


@dataclasses.dataclass
class Figure:
    rps: float
    p50_ms: float
    cpu_us: float  # client CPU per request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # 127.0.0.1 only
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    port = free_port()
    fake = subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/health")
        asyncio.run(run(base, args.rounds, args.seconds))  # the default loop, as overhead.py's clients
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
