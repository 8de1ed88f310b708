"""ai-connector: named, saved, tested connections to LLM services (Kibana's AI Connector) as a
small pluggy host plus one plugin per service. Plugin authors import from `ai_connector.plugin`."""

__version__ = "0.1.0"
