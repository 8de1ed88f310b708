"""`serve --workers N`: N worker processes on one store. A change made through one worker is run by
every worker within the revalidation interval; each worker takes 1/N of a connector's rate limit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_connector.api.serving import default_workers
from ai_connector.host.settings import HostSettings
from ai_connector.runtime.ratelimit import RateLimiter
from ai_connector.testing.fakeserver import FakeServer
from ai_connector_openai.testing import OpenAIFake, connector

API_KEY = "serve-workers-key-0123456789"
AUTH = {"Authorization": f"ApiKey {API_KEY}", "kbn-xsrf": "t"}
REVALIDATE = 0.5  # seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`ai-connector serve --workers 2` on a free port; its base URL once both workers answer."""
    port = _free_port()
    env = {
        **os.environ,
        "AI_CONNECTOR_HOME": str(tmp_path / "home"),
        "AI_CONNECTOR_ENCRYPTION_KEY": "k" * 40,
        "AI_CONNECTOR_API_KEYS": f"{API_KEY}:all",
        "AI_CONNECTOR_REVALIDATE_INTERVAL": str(REVALIDATE),
    }
    script = Path(sys.executable).with_name("ai-connector")
    proc = subprocess.Popen(
        [str(script), "serve", "--workers", "2", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # two interpreters start on a loaded machine
        while True:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "serve ended")
            try:
                answer = httpx.get(f"{base}/api/actions/connector_types", headers=AUTH, timeout=5)
                if answer.status_code == 200 and len(_children(proc.pid)) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve --workers 2 did not start"
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _models_seen(server: FakeServer, base: str, calls: int) -> set[str]:
    """Execute the connector `calls` times, each on a new connection (so both workers take some)."""
    server.requests.clear()
    body = {
        "params": {
            "subAction": "unified_completion",
            "subActionParams": {"body": {"messages": [{"role": "user", "content": "hi"}]}},
        }
    }
    for _ in range(calls):
        answer = httpx.post(f"{base}/api/actions/connector/c1/_execute", json=body, headers=AUTH, timeout=60)
        assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
    return {r.json()["model"] for r in server.requests}


def test_another_workers_update_is_run_within_the_revalidation_interval(served: str) -> None:
    with FakeServer() as server:
        OpenAIFake(server, models=("model-a", "model-b")).install()
        provider_config, secrets = connector(server.url)

        def document(model: str) -> dict[str, Any]:
            return {
                "name": "c1",
                "config": {
                    "provider": "openai",
                    "taskType": "chat_completion",
                    "inferenceId": "workers",
                    "providerConfig": {**provider_config, "model_id": model},
                },
                "secrets": {"providerSecrets": secrets},
            }

        created = httpx.post(
            f"{served}/api/actions/connector/c1",
            json={"connector_type_id": ".inference", **document("model-a")},
            headers=AUTH,
            timeout=60,
        )
        assert created.status_code == 200, created.text
        assert _models_seen(server, served, 12) == {"model-a"}  # both workers now hold model-a's state
        updated = httpx.put(
            f"{served}/api/actions/connector/c1", json=document("model-b"), headers=AUTH, timeout=60
        )
        assert updated.status_code == 200, updated.text
        time.sleep(REVALIDATE * 1.5)
        assert _models_seen(server, served, 12) == {"model-b"}


async def test_a_worker_refuses_beyond_its_share() -> None:
    from ai_connector.errors import RateLimitError

    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    await limiter.acquire("c1", 120, max_wait=0.0)  # one worker alone: 2 a second, so 2 at once
    await limiter.acquire("c1", 120, max_wait=0.0)
    halved = RateLimiter(clock=lambda: now[0])
    halved.workers = 2
    await halved.acquire("c1", 120, max_wait=0.0)  # its share, 1 a second, holds one token
    with pytest.raises(RateLimitError):
        await halved.acquire("c1", 120, max_wait=0.5)


def test_the_workers_setting_and_its_default(tmp_path: Path) -> None:
    home = {"AI_CONNECTOR_HOME": str(tmp_path)}
    assert default_workers(HostSettings.load(home)) == len(os.sched_getaffinity(0))
    assert default_workers(HostSettings.load({**home, "AI_CONNECTOR_WORKERS": "3"})) == 3
    with pytest.raises(Exception, match="AI_CONNECTOR_WORKERS"):
        HostSettings.load({**home, "AI_CONNECTOR_WORKERS": "0"})
