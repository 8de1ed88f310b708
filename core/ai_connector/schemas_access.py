"""Access to the JSON Schema documents shipped in `schemas/` (loaded once, read-only)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["load_schema"]


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema file `schemas/<name>` shipped with the package."""
    text = (resources.files("ai_connector") / "schemas" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
