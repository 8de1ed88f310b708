"""Fake installed distributions (`*.dist-info` + `entry_points.txt` + module), as pip lays them out."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ai_connector.manager import ENTRY_POINT_GROUP

GOOD = """
from ai_connector.plugin import ChatChunk, Provider, TaskType, TestResult, hookimpl

async def chat(endpoint, request, ctx):
    yield ChatChunk(content="hi")

async def test(endpoint, ctx):
    return TestResult(ok=True, message="ok")

SETTINGS = {SETTINGS}

@hookimpl
def {HOOK}():
    return [Provider(id={PID!r}, name="Fake {PID}", task_types={TASKS}, settings_schema=SETTINGS,
                     chat_completion_stream=chat, test=test)]
"""

EMPTY_SETTINGS = '{"type": "object", "properties": {}, "additionalProperties": False}'


def plugin_source(
    pid: str,
    *,
    settings: str = EMPTY_SETTINGS,
    hook: str = "ai_connector_providers",
    tasks: str = "{TaskType.CHAT_COMPLETION}",
) -> str:
    return GOOD.format(PID=pid, SETTINGS=settings, HOOK=hook, TASKS=tasks)


class Dists:
    """Writes fake installed distributions into one sys.path directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def add(self, dist: str, ep_name: str, module: str, source: str, version: str = "1.0") -> None:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{ep_name} = {module}\n")
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        self.modules.append(module)
