"""`serve`'s HTTP protocol: the writes of one event-loop turn reach the socket as one write, in
order, and nothing is held past the turn, a size cap, or the connection's end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from api_helpers import ALL, READ, LiveApp, connector_body

from ai_connector.api import create_app
from ai_connector.api.serving import _options
from ai_connector.api.wire import FLUSH_BYTES, CoalescingTransport, http_protocol


class _Transport:
    """What the real transport was asked to do."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5601) if name == "sockname" else default


async def test_the_writes_of_one_turn_are_one_write_in_order():
    real = _Transport()
    wire = CoalescingTransport(real, asyncio.get_running_loop())
    wire.write(b"HTTP/1.1 200 OK\r\n\r\n")
    wire.write(b"")
    wire.writelines([b"a", b"b"])
    assert real.writes == []  # held until the turn ends
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nab"]
    wire.write(b"next")
    await asyncio.sleep(0)
    assert real.writes[1:] == [b"next"]
    assert wire.get_extra_info("sockname") == ("127.0.0.1", 5601)  # the rest is the transport's


async def test_a_large_answer_is_written_at_once_so_flow_control_still_works():
    real = _Transport()
    wire = CoalescingTransport(real, asyncio.get_running_loop())
    wire.write(b"x" * (FLUSH_BYTES - 1))
    assert real.writes == []
    wire.write(b"y")
    assert [len(w) for w in real.writes] == [FLUSH_BYTES]
    await asyncio.sleep(0)
    assert len(real.writes) == 1  # nothing left for the turn's end


async def test_close_writes_what_is_held_first_and_nothing_follows_a_lost_connection():
    real = _Transport()
    wire = CoalescingTransport(real, asyncio.get_running_loop())
    wire.write(b"last words")
    wire.close()
    assert (real.writes, real.closed) == ([b"last words"], True)
    lost = _Transport()
    wire = CoalescingTransport(lost, asyncio.get_running_loop())
    wire.write(b"too late")
    lost.closed = True  # the peer went away within the turn
    await asyncio.sleep(0)
    assert lost.writes == []


def test_serve_runs_this_protocol_and_logs_access_only_where_it_shows():
    assert _options("info")["http"] is http_protocol()
    assert (_options("info")["access_log"], _options("warning")["access_log"]) == (True, False)
    assert _options("debug")["server_header"] is False


async def test_a_real_server_on_this_protocol_streams_and_answers(make_settings, registry, server):
    body = {"params": {"subAction": "unified_completion_stream", "subActionParams": {
        "body": {"messages": [{"role": "user", "content": "Hello"}]}}}}  # fmt: skip
    with LiveApp(create_app(settings=make_settings(), registry=registry)) as live:  # serve's protocol
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            created = await http.post("/api/actions/connector", headers=ALL, json=connector_body(server))
            assert created.status_code == 200, created.text
            cid = created.json()["id"]
            url = f"/api/actions/connector/{cid}/_execute"
            streams = await asyncio.gather(*(http.post(url, headers=READ, json=body) for _ in range(8)))
            listed = await http.get("/api/actions/connectors", headers=READ)
    for resp in streams:
        assert resp.status_code == 200
        assert resp.text.endswith("data: [DONE]\n\n")
        assert json.loads(resp.text.split("\n\n")[0][len("data: ") :])["object"] == "chat.completion.chunk"
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [cid]
