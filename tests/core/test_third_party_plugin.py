"""The third-party path, proven: the example plugin distribution is pip-installed into a fresh
environment, discovered by its entry point with no change to the core, and uninstalled again."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ai-connector-ollama"


def run(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def fresh_env(tmp_path: Path) -> Path:
    """A new virtual environment that sees this environment's packages (as a user's would after
    `pip install ai-connector`), so only the plugin is new in it."""
    env = tmp_path / "env"
    result = run(sys.executable, "-m", "venv", "--without-pip", str(env))
    assert result.returncode == 0, result.stderr
    site = run(str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()["purelib"]
    Path(site.stdout.strip(), "outer-env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return env


def discover(env: Path) -> tuple[list[str], list[dict]]:
    code = (
        "import json; from ai_connector.manager import load_registry; r = load_registry();"
        "print(json.dumps([list(r.providers), [p.to_dict() for p in r.plugins]]))"
    )
    out = run(str(env / "bin" / "python"), "-c", code)
    assert out.returncode == 0, out.stderr
    providers, plugins = json.loads(out.stdout.strip().splitlines()[-1])
    return providers, plugins


def test_example_plugin_installs_is_discovered_and_uninstalls(fresh_env: Path) -> None:
    py = str(fresh_env / "bin" / "python")
    before, _ = discover(fresh_env)
    assert "ollama" not in before

    pip = [sys.executable, "-m", "pip", "--python", py, "--disable-pip-version-check"]
    result = run(*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr

    providers, plugins = discover(fresh_env)
    assert "ollama" in providers
    info = next(p for p in plugins if p["name"] == "ollama")
    assert (info["distribution"], info["version"], info["status"]) == (
        "ai-connector-ollama",
        "0.1.0",
        "active",
    )
    cli = run(py, "-m", "ai_connector.cli", "providers", "--json")
    assert cli.returncode == 0, cli.stderr
    assert "ollama" in [d["service"] for d in json.loads(cli.stdout)]

    # The author's own contract tests pass with the kit shipped in ai-connector.
    kit = run(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=EXAMPLE)
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-2000:]
    assert "6 passed" in kit.stdout

    result = run(*pip, "uninstall", "-y", "ai-connector-ollama")
    assert result.returncode == 0, result.stderr
    after, _ = discover(fresh_env)
    assert "ollama" not in after
