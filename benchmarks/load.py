"""Load held by `ai-connector serve`: bounded concurrent create / test / execute over HTTP.

    .venv/bin/python benchmarks/load.py [--seconds 20] [--concurrency 32]

A real `ai-connector serve` (its own process, a fresh data directory) in front of a local OpenAI-wire
fake (`_fake_openai.py`, its own process); everything on 127.0.0.1. Workers loop for `--seconds`,
each request one of: create a connector (1 in 10), *Save & test* one (1 in 10), execute one
(`unified_completion`, 8 in 10). Printed: requests/s, p50/p99 latency per kind, errors by kind (HTTP
status or exception type), the server's RSS and open files before and after, and whether every
acknowledged write (a create answered 200) is present in `GET /api/actions/connectors` afterwards.
Nothing is asserted (a benchmark, not a test), but the last line says OK or names what broke.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from overhead import ENCRYPTION_KEY, HERE, HIGH_RPM, SERVE_KEY, free_port, pct, wait_http

HEADERS = {"authorization": f"ApiKey {SERVE_KEY}", "kbn-xsrf": "true"}
EXECUTE = {
    "params": {
        "subAction": "unified_completion",
        "subActionParams": {"body": {"messages": [{"role": "user", "content": "Hello world"}]}},
    }
}


def proc_figures(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open file descriptors) of a process, from /proc."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def document(base: str, n: int) -> dict[str, Any]:
    return {
        "name": f"load {n}",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "providerConfig": {
                "model_id": "bench-small",
                "url": base + "/v1/chat/completions",
                "rate_limit.requests_per_minute": HIGH_RPM,
            },
        },
        "secrets": {"providerSecrets": {"api_key": "sk-load-0000000000000000"}},
    }


async def run(serve: str, fake: str, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    acknowledged: set[str] = set()
    ids: list[str] = []
    rng = random.Random(12)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=serve, headers=HEADERS, timeout=60, limits=limits) as client:
        for n in range(concurrency):  # something to test and execute from the first request on
            r = await client.post("/api/actions/connector", json=document(fake, n))
            r.raise_for_status()
            ids.append(r.json()["id"])
            acknowledged.add(r.json()["id"])
        created = len(ids)
        deadline = time.perf_counter() + seconds

        async def one(kind: str) -> None:
            nonlocal created
            start = time.perf_counter()
            try:
                if kind == "create":
                    created += 1
                    r = await client.post("/api/actions/connector", json=document(fake, created))
                elif kind == "test":
                    r = await client.post(f"/api/actions/connector/{rng.choice(ids)}/_test")
                else:
                    r = await client.post(f"/api/actions/connector/{rng.choice(ids)}/_execute", json=EXECUTE)
            except httpx.HTTPError as exc:
                errors[f"{kind}: {type(exc).__name__}"] += 1
                return
            latencies[kind].append(time.perf_counter() - start)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            if r.status_code != 200:
                errors[f"{kind}: HTTP {r.status_code}"] += 1
            elif kind == "create":
                acknowledged.add(body["id"])
                ids.append(body["id"])
            elif kind == "execute" and body.get("status") != "ok":
                errors[f"execute: status {body.get('status')}"] += 1
            elif kind == "test" and body.get("status") != "succeeded":
                errors[f"test: {body.get('status')}"] += 1

        async def worker() -> None:
            while time.perf_counter() < deadline:
                roll = rng.random()
                await one("create" if roll < 0.1 else "test" if roll < 0.2 else "execute")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        listed = await client.get("/api/actions/connectors")
        present = {c["id"] for c in listed.json()}
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "errors": errors,
        "acknowledged": len(acknowledged),
        "missing": sorted(acknowledged - present),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ai-connector-load-"))
    fake_port, serve_port = free_port(), free_port()
    fake = f"http://127.0.0.1:{fake_port}"
    serve = f"http://127.0.0.1:{serve_port}"
    env = {
        **os.environ,
        "AI_CONNECTOR_HOME": str(home),
        "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "AI_CONNECTOR_LICENSE": "enterprise",
        "AI_CONNECTOR_API_KEYS": f"{SERVE_KEY}:all",
        "AI_CONNECTOR_ALLOWED_HOSTS": "127.0.0.1",
    }
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(fake_port)]),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ai_connector.cli",
                "serve",
                "--port",
                str(serve_port),
                "--log-level",
                "error",
            ],
            env=env,
        ),
    ]
    try:
        wait_http(fake + "/health")
        wait_http(serve + "/api/actions/connector_types")
        pid = procs[1].pid
        rss0, fds0 = proc_figures(pid)
        result = asyncio.run(run(serve, fake, args.seconds, args.concurrency))
        rss1, fds1 = proc_figures(pid)
        time.sleep(2)  # the clients' connections closed: what the server keeps once idle
        rss2, fds2 = proc_figures(pid)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    lat = result["latencies"]
    total = sum(len(v) for v in lat.values())
    print(f"ai-connector serve, concurrency {args.concurrency}, {result['elapsed']:.1f} s")
    print(f"{'kind':8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in ("create", "test", "execute"):
        values = lat.get(kind, [])
        if values:
            p50, p99 = statistics.median(values) * 1e3, pct(values, 0.99) * 1e3
            print(
                f"{kind:8} {len(values):>9} {len(values) / result['elapsed']:>8.0f} {p50:>8.1f} {p99:>8.1f}"
            )
    print(f"{'all':8} {total:>9} {total / result['elapsed']:>8.0f}")
    print("errors by kind:", dict(result["errors"]) or "none")
    print(
        f"server RSS: {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB right after, "
        f"{rss2 / 1024:.1f} MiB idle 2 s later; open files: {fds0}, {fds1}, {fds2}"
    )
    missing = result["missing"]
    print(f"acknowledged writes: {result['acknowledged']}, missing afterwards: {len(missing)}")
    broken = [what for what, bad in (("errors", result["errors"]), ("lost writes", missing)) if bad]
    print("OK" if not broken else "BROKEN: " + ", ".join(broken))


if __name__ == "__main__":
    main()
