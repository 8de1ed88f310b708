"""schemathesis against `/api/openapi.json` of a running `ai-connector serve`: whatever the document
allows a client to send, the host never answers with a 5xx and never hangs. Bounded (a few dozen
examples per operation, a 30 s timeout per call) so the run stays within a minute or two.

The operations are driven with schemathesis's hypothesis strategies directly (`as_strategy`), as
its pytest loader for fixtures does not run under this suite's pytest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from served_host import ServedHost

EXAMPLES_PER_OPERATION = 40


def test_no_5xx_and_no_hang(served: ServedHost) -> None:
    # A saved connector, so some generated calls meet a real one (the rest meet 404s).
    body = {
        "name": "fuzz target",
        "connector_type_id": ".inference",
        "config": {"provider": "openai", "taskType": "chat_completion", "providerConfig": {"model_id": "m"}},
        "secrets": {"providerSecrets": {"api_key": "fuzz-key"}},
    }
    created = httpx.post(
        served.url + "/api/actions/connector/fuzz-target", headers=served.headers(), json=body
    )
    assert created.status_code == 200, created.text
    schema = schemathesis.openapi.from_url(served.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # the connector routes, _execute, the services descriptors
    outcomes: Counter[str] = Counter()
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(base_url=served.url, headers=served.headers(), timeout=30)
            outcomes[f"{response.status_code // 100}xx"] += 1
            case.validate_response(response, checks=[not_a_server_error])

        call()
    print("schemathesis outcomes:", dict(outcomes), "over", len(operations), "operations")
    assert outcomes["5xx"] == 0 and sum(outcomes.values()) >= len(operations) * 5
