"""Kibana refuses a request body over `server.maxPayload` (1048576 bytes by default) before parsing
it, with hapi's 413 (Kibana core's HTTP server is hapi; @hapi/subtext `lib/index.js`:
`Boom.entityTooLarge('Payload content length greater than maximum allowed: ' + maxBytes)`)."""

from __future__ import annotations

import httpx
from api_helpers import ALL


async def test_a_body_over_max_payload_is_kibanas_413(client: httpx.AsyncClient) -> None:
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/api/actions/connector", content=body, headers={**ALL, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "statusCode": 413,
        "error": "Request Entity Too Large",
        "message": "Payload content length greater than maximum allowed: 1048576",
    }
