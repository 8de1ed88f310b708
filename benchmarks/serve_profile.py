"""Where `serve` spends its CPU: the serve process's CPU time per `_execute` request at c16.

    .venv/bin/python benchmarks/serve_profile.py [--requests 3000] [--rounds 5] [--concurrency 16]
        [--relay] [--baseline DIR] [--source DIR] [--workers N] [--py-spy PREFIX]

Starts the OpenAI-wire fake (`_fake_openai.py`) and `ai-connector serve --workers 1` on a temporary
home, saves one connector over HTTP as `overhead.py` does, and drives the small answer and the
21-chunk stream with aiohttp. For each, every round sends `--requests` requests at
`--concurrency` and reads the serve process's user+system CPU time from /proc before and after: CPU
per request is much steadier than requests/s on a shared machine, where another process can take
the core the server needs. Beside it, the fake's and this client's CPU per request: on a machine
with few cores they are what bounds requests/s.

`--relay`: also measure the minimal aiohttp relay (`openai_route.py --relay`, contender (r) of
`overhead.py`). `--baseline DIR`: also start a second `serve` from another checkout's sources
(`DIR/core`, `DIR/plugins` and `DIR/schemas` as `git archive main core plugins schemas` lays them
out, first on PYTHONPATH); `--source DIR` runs the first one from such a copy too (an editable
install and a PYTHONPATH copy need not cost the same). The servers alternate within each round;
the figures are medians, and medians of paired ratios. `--workers N`: the first server runs N
workers (its CPU is theirs added up). `--py-spy PREFIX`: after the rounds, sample the first server
with py-spy (`pip install py-spy`) while it answers each kind, write the collapsed stacks to
`PREFIX-small.txt` and `PREFIX-stream.txt`, and print the shares of the HTTP edge, the core and
the event loop and the functions with the most samples. Nothing is asserted: a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from openai_route import cpu_seconds  # noqa: E402  (sibling scripts, not a package)
from overhead import (  # noqa: E402
    SERVE_KEY,
    STREAM_CHUNKS,
    connector_document,
    create_over_http,
    free_port,
    params,
    request_body,
    service_env,
    wait_http,
)


class Target:
    """One server under test: its process, base URL and how to call it."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], base: str) -> None:
        self.name = name
        self.proc = proc
        self.base = base
        self.bodies: dict[str, bytes] = {}
        self.urls: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.reconnects = 0


def tree_cpu(pid: int) -> float:
    """CPU seconds of process `pid` and its descendants (`serve --workers N`'s worker processes)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(cpu_seconds(p) for p in tree)


def start_serve(name: str, home: Path, source: Path | None, workers: int = 1) -> Target:
    """`ai-connector serve --workers N` from this checkout, or from `source`'s core and plugins."""
    env = {**os.environ, **service_env(home)}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(source / d) for d in ("core", "plugins"))
    port = free_port()
    command = [sys.executable, "-c", "from ai_connector.cli import main; main()"]
    command += ["serve", "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/api/actions/connector_types", 60)
    return Target(name, proc, base)


async def prepare_serve(session: aiohttp.ClientSession, target: Target, fake: str) -> None:
    cid = await create_over_http(session, target.base, connector_document(fake))
    target.urls = dict.fromkeys(("small", "stream"), f"{target.base}/api/actions/connector/{cid}/_execute")
    target.headers = {
        "authorization": f"ApiKey {SERVE_KEY}",
        "kbn-xsrf": "true",
        "content-type": "application/json",
    }
    for kind, sub, model in (
        ("small", "unified_completion", None),
        ("stream", "unified_completion_stream", "bench-stream"),
    ):
        doc = {"params": {"subAction": sub, "subActionParams": params(model)}}
        target.bodies[kind] = json.dumps(doc).encode()


def prepare_relay(target: Target) -> None:
    url = target.base + "/v1/chat/completions"
    target.urls = {"small": url, "stream": url}
    target.headers = {"content-type": "application/json"}
    target.bodies = {"small": request_body("bench-small"), "stream": request_body("bench-stream")}


FAKE_PID = 0  # the OpenAI-wire fake's process, whose CPU is reported beside the server's


async def drive(
    session: aiohttp.ClientSession, target: Target, kind: str, requests: int, concurrency: int
) -> tuple[float, float, float, float]:
    """(requests/s, server CPU µs per request, the fake's, this client's) over `requests` calls at
    `concurrency`."""
    url, body, headers = target.urls[kind], target.bodies[kind], target.headers
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            try:
                resp = await session.post(url, data=body, headers=headers)
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                # A kept-alive connection the server closed while idle (uvicorn's keep-alive
                # timeout, 5 s: the other contenders' rounds can take that long): once more.
                target.reconnects += 1
                resp = await session.post(url, data=body, headers=headers)
            async with resp:
                payload = await resp.read()
                if resp.status != 200 or b'"status":"error"' in payload:
                    raise RuntimeError(f"{target.name} answered {resp.status}: {payload[:300]!r}")
                if (
                    kind == "stream"
                    and target.name != "relay"
                    and payload.count(b"data: ") != STREAM_CHUNKS + 1
                ):
                    raise RuntimeError(f"{target.name}: {payload.count(b'data: ')} events")

    cpu, fake, client = tree_cpu(target.proc.pid), cpu_seconds(FAKE_PID), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - started
    cpu, fake = tree_cpu(target.proc.pid) - cpu, cpu_seconds(FAKE_PID) - fake
    client = time.process_time() - client
    return requests / took, cpu * 1e6 / requests, fake * 1e6 / requests, client * 1e6 / requests


async def bench(targets: list[Target], fake: str, args: argparse.Namespace) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for t in targets:
            if t.name == "relay":
                prepare_relay(t)
            else:
                await prepare_serve(session, t, fake)
        for kind in ("small", "stream"):
            for t in targets:  # warm-up: connections, ready states, imports
                await drive(session, t, kind, min(500, args.requests), args.concurrency)
            got: dict[str, list[tuple[float, float, float, float]]] = {t.name: [] for t in targets}
            for r in range(args.rounds):
                order = targets[r % len(targets) :] + targets[: r % len(targets)]
                for t in order:
                    got[t.name].append(await drive(session, t, kind, args.requests, args.concurrency))
            load = os.getloadavg()[0]
            rounds = f"{args.rounds} rounds of {args.requests} requests"
            print(f"\n{kind}: c{args.concurrency}, {rounds}, load {load:.1f}")
            for name, rs in got.items():
                rps, cpu, fake, client = (statistics.median(x[i] for x in rs) for i in range(4))
                print(f"  {name:9} {rps:7.0f} req/s  {cpu:6.0f} µs CPU/request (fake {fake:.0f}, ", end="")
                print(f"client {client:.0f})  rounds: " + " ".join(f"{x[0]:.0f}/{x[1]:.0f}" for x in rs))
            for t in targets:
                if t.reconnects:
                    print(f"  {t.name}: {t.reconnects} requests sent again on a new connection")
            first = targets[0].name
            for t in targets[1:]:
                rps = statistics.median(a[0] / b[0] for a, b in zip(got[first], got[t.name], strict=True))
                cpu = statistics.median(a[1] / b[1] for a, b in zip(got[first], got[t.name], strict=True))
                print(f"  {first}/{t.name}: req/s {rps:.2f}x, CPU/request {cpu:.2f}x (median of paired)")
        if args.py_spy:
            await profile(session, targets[0], args)


async def profile(session: aiohttp.ClientSession, target: Target, args: argparse.Namespace) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    for kind in ("small", "stream"):
        out = f"{args.py_spy}-{kind}.txt"
        command = [spy, "record", "--pid", str(target.proc.pid), "--format", "raw", "--rate", "500"]
        rec = subprocess.Popen(
            [*command, "--duration", "6", "--nonblocking", "--output", out],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline and rec.poll() is None:
            await drive(session, target, kind, 300, args.concurrency)
        rec.wait(30)
        print(f"\n{kind}: py-spy samples in {out}; top functions by inclusive share:")
        summarize(Path(out), 40)


# Where a sample's time belongs: the nearest frame (from the leaf) of the HTTP edge or of the core.
GATEWAY = ("(ai_connector/api/", "(uvicorn/", "(starlette/", "(fastapi/", "(httptools/")
CORE = ("(ai_connector", "(aiohttp/", "(httpx/", "(sqlalchemy/", "(concurrent/", "(threading.py")
LOOP_ROOT = "Runner.run (asyncio/runners.py"


def bucket(frames: list[str]) -> str:
    """ "gateway", "core" or "loop" (the event loop itself: polling, callbacks in C)."""
    for frame in reversed(frames):
        if frame.startswith(LOOP_ROOT):
            return "loop"
        if any(g in frame for g in GATEWAY):
            return "gateway"
        # py-spy names some of the host's modules without their package ("execution.py:97")
        if any(c in frame for c in CORE) or (" (" in frame and "/" not in frame.split(" (", 1)[1]):
            return "core"
    return "loop"


def summarize(path: Path, top: int) -> None:
    """The share of samples in the HTTP edge, the core and the loop, and the functions with the
    most samples on their stack (inclusive) and on top (self)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
        buckets[bucket(frames)] += n
    print("  " + ", ".join(f"{name} {100 * n / total:.1f}%" for name, n in buckets.most_common()))
    for frame, n in inclusive.most_common(top):
        if n < total:  # not the frames every sample has (the command line, uvicorn.run)
            print(f"  {100 * n / total:5.1f}% incl {100 * own[frame] / total:5.1f}% self  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--baseline", type=Path, help="another checkout's sources (DIR/core, DIR/plugins)")
    parser.add_argument("--source", type=Path, help="run `serve` from these sources, not this checkout's")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers` of the first server")
    parser.add_argument("--relay", action="store_true", help="also measure the minimal aiohttp relay")
    parser.add_argument("--py-spy", metavar="PREFIX", help="profile this checkout's serve with py-spy")
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        fake = f"http://127.0.0.1:{port}"
        procs.append(subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)]))
        wait_http(fake + "/health")
        global FAKE_PID
        FAKE_PID = procs[0].pid
        with tempfile.TemporaryDirectory(prefix="ai-connector-serve-profile-") as tmp:
            source = args.source.resolve() if args.source is not None else None
            targets = [start_serve("serve", Path(tmp) / "serve", source, args.workers)]
            procs.append(targets[0].proc)
            if args.baseline is not None:
                targets.append(start_serve("baseline", Path(tmp) / "baseline", args.baseline.resolve()))
                procs.append(targets[-1].proc)
            if args.relay:
                relay_port = free_port()
                command = [sys.executable, str(HERE / "openai_route.py"), "--relay", str(relay_port), fake]
                procs.append(subprocess.Popen(command))
                relay = f"http://127.0.0.1:{relay_port}"
                wait_http(relay + "/health")
                targets.append(Target("relay", procs[-1], relay))
            asyncio.run(bench(targets, fake, args))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


if __name__ == "__main__":
    main()
