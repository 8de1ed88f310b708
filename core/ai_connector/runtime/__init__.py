"""Running connectors: one inference pipeline for every provider.

`Runtime` (async) and `SyncRuntime` (blocking) run a validated connector's Kibana sub-actions
(`unified_completion`, `unified_completion_stream`, `completion`, `text_embedding`,
`sparse_embedding`, `rerank`), its *Save & test* routine and its lifecycle hooks, over one shared
pooled HTTP client. The modules behind it each do one job:

- `subactions`: names, params (validated against `schemas/subactions/*.json`) and answer shapes;
- `aggregate`: Kibana's aggregation of a chat stream into one `chat.completion`;
- `tokens`: the context-window estimate;
- `retry`: which failures are retried and how long to wait;
- `ratelimit`: the per-connector token bucket;
- `transport`: the aiohttp-backed httpx transport and the transport choice;
- `pipeline`: `Runtime`; `facade`: `SyncRuntime`; `settings`: `RuntimeSettings`.

Example::

    registry = default_registry()
    connector = validate_connector(document, registry)
    async with Runtime(registry, RuntimeSettings(timeout=60)) as runtime:
        answer = await runtime.execute(connector, "unified_completion",
                                       {"body": {"messages": [{"role": "user", "content": "Hi"}]}})
        async for chunk in runtime.stream(connector, {"body": {"messages": [...]}}):
            print(chunk["choices"][0]["delta"].get("content", ""), end="")
"""

from __future__ import annotations

from ai_connector.runtime.errors import TokenLimitReachedError
from ai_connector.runtime.facade import SyncRuntime
from ai_connector.runtime.pipeline import Runtime
from ai_connector.runtime.settings import RuntimeSettings
from ai_connector.runtime.subactions import SUB_ACTIONS, default_sub_action

__all__ = [
    "SUB_ACTIONS",
    "Runtime",
    "RuntimeSettings",
    "SyncRuntime",
    "TokenLimitReachedError",
    "default_sub_action",
]
