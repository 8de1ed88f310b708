"""The example plugin proves itself with ai-connector's contract kit."""

from ai_connector.plugin import TaskType
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract


class TestOllamaContract(ProviderContract):
    provider_id = "ollama"

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return {"model_id": "llama3.2", "url": base_url + "/v1"}, {"api_key": self.canary}

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        body = {
            "error": {
                "message": "invalid api key",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        server.add("*", "/v1/.*", FakeResponse.json(body, status=401))  # an authenticating proxy
