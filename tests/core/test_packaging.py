"""The wheel carries unique import names (no top-level `core` or `plugins`), the schemas, and every
built-in provider's entry point; the installed package finds its schemas."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from ai_connector.schemas_access import load_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schemas_are_found_through_the_package() -> None:
    assert load_schema("connector.schema.json")["title"] == "AI Connector"
    assert load_schema("provider-schema.meta.json")["$schema"].endswith("2020-12/schema")


def test_wheel_layout(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    wheel = next(tmp_path.glob("ai_connector-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert "core" not in tops and "plugins" not in tops
    assert {"ai_connector", "ai_connector_openai"} <= tops
    assert all(t.startswith("ai_connector") for t in tops), tops
    assert "ai_connector/schemas/connector.schema.json" in names
    assert "ai_connector/schemas/provider-schema.meta.json" in names
    assert "ai_connector/py.typed" in names
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    for provider in ("openai", "azureopenai", "amazonbedrock", "googlevertexai", "googleaistudio", "elastic"):
        assert f"{provider} = ai_connector_{provider}" in entry_points
    assert "ai-connector = ai_connector.cli:main" in entry_points
