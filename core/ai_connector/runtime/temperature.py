"""Which temperature a chat request is sent with: Kibana's `getTemperatureIfValid` rules (inference
plugin `server/chat_complete/utils/get_temperature.ts`).

- A `temperature` in the connector's config (finite, >= 0) wins over the request's, always.
- Otherwise OpenAI's models that refuse the parameter (`o1`, `o3`, `gpt-5`, by the base model name
  after any `provider/` prefix, as prefix or suffix) and Claude 4.7 or newer on Amazon Bedrock get
  none, so the provider's default applies.
- Otherwise the request's own temperature, unless it is negative.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from ai_connector.types import ChatRequest

__all__ = ["temperature_for", "with_connector_temperature"]

_OPENAI_WITHOUT_TEMPERATURE = ("o1", "o3", "gpt-5")
_CLAUDE_VERSION = re.compile(r"claude-[a-z]\w*-(\d+)-(\d+)")


def _claude_without_temperature(model: str) -> bool:
    """Claude 4.7+ ids (`...claude-opus-4-8-2025...`); Claude 3.x ids do not match the pattern."""
    match = _CLAUDE_VERSION.search(model.lower())
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return major > 4 or (major == 4 and minor >= 7)


def temperature_for(request: ChatRequest, connector: Any) -> float | None:
    """The temperature to send for `request` on `connector` (None: send none)."""
    config = getattr(connector, "config", None) or {}
    configured = config.get("temperature")
    number = configured if isinstance(configured, int | float) and not isinstance(configured, bool) else None
    if number is not None and math.isfinite(number) and number >= 0:
        return float(number)
    provider_config = config.get("providerConfig") or {}
    model = request.model or provider_config.get("model_id")
    if isinstance(model, str) and model:
        base = model.lower().rsplit("/", 1)[-1]
        if any(base.startswith(m) or base.endswith(m) for m in _OPENAI_WITHOUT_TEMPERATURE):
            return None
        if config.get("provider") == "amazonbedrock" and _claude_without_temperature(model):
            return None
    wanted = request.temperature
    return None if wanted is None or wanted < 0 else wanted


def with_connector_temperature(request: Any, connector: Any) -> Any:
    """`request` with the temperature Kibana would send (other requests unchanged)."""
    if not isinstance(request, ChatRequest):
        return request
    temperature = temperature_for(request, connector)
    if temperature == request.temperature:
        return request
    return dataclasses.replace(request, temperature=temperature)
