"""The core's layers: no import cycle in `core/ai_connector`, and no import from a lower layer up.

The graph is read from the source with `ast` (nothing is imported), and counts every import
statement: module level, inside functions, and under `if TYPE_CHECKING:`, because each is a
dependency a reader has to hold in their head, whether or not it runs at import time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import ai_connector

ROOT = Path(ai_connector.__file__).resolve().parent
# Lowest first. Top-level modules (the plugin contract, errors, validation, the HTTP client) are
# layer 0; `testing` is a kit for plugin authors that may use anything and nothing may use.
LAYERS = ("runtime", "host", "api", "cli", "testing")
# Upward edges another change removes (the `net` branch moves the transport below the client).
KNOWN_UPWARD = {("ai_connector.http", "ai_connector.runtime.transport")}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["ai_connector", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every `ai_connector...` name an import statement in `path` mentions (absolute or relative)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (a name is resolved to its longest module prefix)."""
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(n) for n in _imported(module, path) if n.startswith("ai_connector.")}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    """0 for top-level modules, else 1 + the position of its sub-package in LAYERS."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) + 1 if len(parts) > 1 and parts[1] in LAYERS else 0


def test_the_core_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_module_imports_from_a_higher_layer() -> None:
    graph = import_graph()
    upward = {(m, t) for m, targets in graph.items() for t in targets if layer(t) > layer(m)}
    assert upward - KNOWN_UPWARD == set()


def test_the_graph_sees_every_kind_of_import() -> None:
    # Proof the reader is not blind: edges that exist only inside a function, only under
    # TYPE_CHECKING, and at module level are all in the graph.
    graph = import_graph()
    assert "ai_connector.runtime" in graph["ai_connector.host.connectors"]  # in a function
    assert "ai_connector.manager" in graph["ai_connector.host.connectors"]  # TYPE_CHECKING
    assert "ai_connector.host.errors" in graph["ai_connector.host.connectors"]  # module level
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_in_the_core_is_over_600_lines() -> None:
    """The house rule that keeps each room one a reader can hold in their head."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in ROOT.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
