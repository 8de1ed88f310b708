"""A content-addressed record of provider schemas that already passed the meta-schema check.

Checking every provider's schemas costs tens of milliseconds at each host start, for schemas that
change only when a plugin is upgraded. A schema set whose SHA-256 (together with the meta-schema and
the jsonschema version) is recorded here passed before and is not checked again; anything else is
checked in full. Only passes are recorded, so a broken plugin is reported on every start. The record
lives in the user cache dir (`AI_CONNECTOR_CACHE_DIR` overrides; `off` disables it); any I/O problem
simply means a full check.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["SchemaCheckCache", "schema_check_cache"]

_LIMIT = 512  # recorded digests kept (most recent last)


def _cache_dir() -> Path | None:
    configured = os.environ.get("AI_CONNECTOR_CACHE_DIR")
    if configured:
        return None if configured.strip().lower() == "off" else Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ai-connector", appauthor=False))


class SchemaCheckCache:
    """Digests of schema sets known to be valid; loaded lazily, written atomically."""

    def __init__(self, directory: Path | None) -> None:
        self.path = None if directory is None else directory / "schema-checks.json"
        self._known: list[str] | None = None
        self._salt: str | None = None

    def digest(self, payload: Any) -> str:
        """The key of `payload` (JSON-able), salted with the meta-schema and the jsonschema version."""
        if self._salt is None:
            from ai_connector.schemas_access import load_schema

            try:
                version = metadata.version("jsonschema")
            except metadata.PackageNotFoundError:
                version = "?"
            self._salt = json.dumps([load_schema("provider-schema.meta.json"), version], sort_keys=True)
        text = self._salt + json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _load(self) -> list[str]:
        if self._known is None:
            self._known = []
            if self.path is not None:
                try:
                    data = json.loads(self.path.read_text())
                    if isinstance(data, list):
                        self._known = [d for d in data if isinstance(d, str)]
                except (OSError, ValueError):
                    pass
        return self._known

    def __contains__(self, digest: str) -> bool:
        return digest in self._load()

    def add(self, digest: str) -> None:
        """Record a digest that passed; best effort."""
        known = self._load()
        if digest in known:
            return
        known.append(digest)
        del known[:-_LIMIT]
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".schema-checks.")
            with os.fdopen(fd, "w") as fh:
                json.dump(known, fh)
            os.replace(tmp, self.path)
        except OSError:
            pass


_CACHE: SchemaCheckCache | None = None


def schema_check_cache() -> SchemaCheckCache:
    """The process-wide cache (directory read from the environment on first use)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = SchemaCheckCache(_cache_dir())
    return _CACHE


def reset_schema_check_cache() -> None:
    """Forget the process-wide cache object (tests change AI_CONNECTOR_CACHE_DIR)."""
    global _CACHE
    _CACHE = None
