"""Cold start of `ai-connector providers --json` (every built-in provider discovered, its schemas
checked against the meta-schema, descriptors rendered) against the bare import of the libraries the
command stands on (httpx, pydantic, jsonschema, pluggy, and click for the command line), measured
alternately in one run. Goal: ratio <= 1.3.

The floor imports httpx without its own command line: `import httpx` also imports `httpx._main`
(with rich and pygments) whenever click and rich are installed, which the floor does not need. It
is blocked the way Python documents (`sys.modules[name] = None` makes that import fail, and httpx
then goes without its CLI). The floor with it is printed too, for comparison with older figures.

    .venv/bin/python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    script = shutil.which("ai-connector", path=str(Path(sys.executable).parent)) or "ai-connector"
    target = [script, "providers", "--json"]
    floor = "import httpx, pydantic, jsonschema, pluggy, click"
    baseline = [sys.executable, "-c", f"import sys; sys.modules['httpx._main'] = None; {floor}"]
    with_cli = [sys.executable, "-c", floor]

    listed = json.loads(subprocess.run(target, capture_output=True, env=env, check=True).stdout)
    for _ in range(2):  # warm the OS file cache and byte-code for both
        timed(target, env), timed(baseline, env), timed(with_cli, env)
    unchecked = {**env, "AI_CONNECTOR_CACHE_DIR": "off"}  # every schema checked in full on every start
    ours, base, full, old = [], [], [], []
    for _ in range(args.runs):
        ours.append(timed(target, env))
        base.append(timed(baseline, env))
        full.append(timed(target, unchecked))
        old.append(timed(with_cli, env))
    m_ours, m_base, m_full = statistics.median(ours), statistics.median(base), statistics.median(full)
    m_old = statistics.median(old)
    print(f"providers discovered: {len(listed)} ({', '.join(d['service'] for d in listed)})")
    print(f"runs: {args.runs} each, alternating")
    print(f"floor     python -c '{floor}' without httpx._main: median {m_base * 1000:7.1f} ms")
    print(f"  same, with httpx's CLI module (the older floor):          median {m_old * 1000:7.1f} ms")
    print(f"ai-connector providers --json:                          median {m_ours * 1000:7.1f} ms")
    print(
        f"  same, schema-check record off (full meta-schema check each start): median {m_full * 1000:7.1f} ms"
    )
    print(f"ratio: {m_ours / m_base:.2f} (goal <= 1.3); with every schema re-checked: {m_full / m_base:.2f}")
    print(f"ratio against the older floor: {m_ours / m_old:.2f}")


if __name__ == "__main__":
    main()
