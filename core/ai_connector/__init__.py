"""ai-connector: named, saved, tested connections to LLM services (Kibana's AI Connector) as a
small pluggy host plus one plugin per service. Plugin authors import from `ai_connector.plugin`."""

import sys

__version__ = "0.1.0"

# `import httpx` also imports httpx's own command line (click, Rich, Pygments: about 5 MB resident
# and 0.1 s) whenever click and rich are installed, and nothing in this package runs it. A None
# entry makes that one import fail, and httpx then goes without its CLI exactly as it does when
# they are not installed. Only when httpx is not imported yet; the `httpx` command, which imports
# httpx first, is unaffected.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
