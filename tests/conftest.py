"""Suite-wide settings: keep every test's caches and data out of the user's own directories."""

from __future__ import annotations

import os
import tempfile

# Set before any test imports the package, so subprocesses started by tests inherit it too.
os.environ.setdefault("AI_CONNECTOR_CACHE_DIR", tempfile.mkdtemp(prefix="ai-connector-test-cache-"))
