"""The HTTP API (`ai-connector serve`): Kibana's connector routes, `_test`, Elasticsearch's
`_inference/_services` descriptors, the OpenAPI document and a small web page, on a ConnectorService."""

from ai_connector.api.app import create_app

__all__ = ["create_app"]
