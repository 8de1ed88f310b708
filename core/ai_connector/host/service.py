"""The host's public entry point: `ConnectorService` (async) and `SyncConnectorService` (blocking).

Host applications, the HTTP API and the CLI import these two from here; each job they do has its
own module in `ai_connector.host` (see README's Layout table).
"""

from __future__ import annotations

from ai_connector.host.connectors import ConnectorService
from ai_connector.host.preconfigured import PreconfiguredConnector
from ai_connector.host.responses import CONNECTOR_TYPE_NAME, error_source
from ai_connector.host.sync import SyncConnectorService

__all__ = [
    "CONNECTOR_TYPE_NAME",
    "ConnectorService",
    "PreconfiguredConnector",
    "SyncConnectorService",
    "error_source",
]
