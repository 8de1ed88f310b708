"""Resident memory after one call: every built-in provider registered, one chat connector executed
through the Python API against a local fake, each scenario in a fresh interpreter. Goal: <= 45 MB.

    .venv/bin/python benchmarks/memory.py [--runs 3]

Scenarios (medians of `--runs` fresh processes, alternated):
  floor     python, one aiohttp POST to the fake (what any async Python client costs)
  runtime   `Runtime` on a validated OpenAI connector: registry loaded, one `unified_completion`
  service   `ConnectorService` on a SQLite store: create, then one execute
Also printed: the heaviest top-level packages the runtime scenario imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from overhead import connector_document, free_port, wait_http  # noqa: E402  (a sibling script)

COMMON = """
import asyncio, json, sys
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
DOC = json.loads(sys.argv[1]); HOME = sys.argv[2]
PARAMS = {"body": {"messages": [{"role": "user", "content": "Hello world"}]}}
"""

SCENARIOS = {
    "floor": """
import aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        url = DOC["config"]["providerConfig"]["url"]
        body = {"model": "bench-small", "messages": PARAMS["body"]["messages"], "stream": True}
        async with s.post(url, json=body) as r:
            await r.read()
asyncio.run(main())
""",
    "runtime": """
from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.validation import validate_connector
async def main():
    registry = default_registry()
    connector = validate_connector(DOC, registry, connector_id="mem")
    async with Runtime(registry, RuntimeSettings()) as runtime:
        out = await runtime.execute(connector, "unified_completion", PARAMS)
    assert out is not None
asyncio.run(main())
""",
    "service": """
from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings
async def main():
    settings = HostSettings.load({"AI_CONNECTOR_HOME": HOME, "AI_CONNECTOR_ENCRYPTION_KEY": "m" * 40})
    service = await ConnectorService.open(settings)
    try:
        created = await service.create(DOC)
        out = await service.execute(created["id"], "unified_completion", PARAMS)
        assert out["status"] == "ok", out
    finally:
        await service.aclose()
asyncio.run(main())
""",
}

REPORT = """
packages = {}
for name in list(sys.modules):
    packages.setdefault(name.split(".")[0], 0)
    packages[name.split(".")[0]] += 1
print(json.dumps({"rss": rss_mb(), "modules": len(sys.modules), "packages": sorted(packages)}))
"""


def run(name: str, doc: dict[str, object], home: str) -> dict[str, object]:
    code = COMMON + SCENARIOS[name] + REPORT
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(doc), home], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    fake = subprocess.Popen([sys.executable, str(HERE / "_fake_openai.py"), str(port)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        doc = connector_document(base)
        got: dict[str, list[dict[str, object]]] = {name: [] for name in SCENARIOS}
        for _ in range(args.runs):
            for name in SCENARIOS:
                with tempfile.TemporaryDirectory(prefix="ai-connector-mem-") as home:
                    got[name].append(run(name, doc, home))
        for name, runs in got.items():
            rss = statistics.median(float(str(r["rss"])) for r in runs)
            modules = statistics.median(int(str(r["modules"])) for r in runs)
            goal = "  [goal <= 45 MB]" if name == "runtime" else ""
            print(f"{name:8} RSS {rss:6.1f} MB   {modules:5.0f} modules{goal}")
        floor = set(got["floor"][0]["packages"])  # type: ignore[arg-type]
        extra = sorted(set(got["runtime"][0]["packages"]) - floor)  # type: ignore[arg-type]
        print("runtime imports beyond the floor:", ", ".join(p for p in extra if not p.startswith("_")))
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
