"""The open-request limit as plain ASGI: the slot comes back whatever ends the request."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.server.limits import OpenRequestLimit


def _scope(path: str = "/v1/models") -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Gate:
    """An ASGI app that waits at a gate, then fails, answers, or keeps waiting (until cancelled)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.fail = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered.set()
        await self.opened.wait()
        if self.fail:
            raise RuntimeError("the endpoint broke")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(limit: OpenRequestLimit, path: str = "/v1/models") -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await limit(_scope(path), _no_body, send)
    return sent


def test_the_slot_comes_back_after_an_error_a_cancel_and_an_answer():
    async def scenario() -> None:
        gate = Gate()
        limit = OpenRequestLimit(gate, 1)
        cancelled = asyncio.create_task(_call(limit))
        await gate.entered.wait()
        assert limit.open == 1
        refused = await _call(limit)
        assert refused[0]["status"] == 503 and (b"retry-after", b"1") in refused[0]["headers"]
        body = json.loads(refused[1]["body"])
        assert body["error"]["message"] == "the server is busy: 1 request is open (the limit is 1); try again shortly"
        assert body["error"]["type"] == "server_error" and body["error"]["code"] == "server_busy"
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert limit.open == 0
        gate.fail, gate.entered = True, asyncio.Event()
        gate.opened.set()
        with pytest.raises(RuntimeError):
            await _call(limit)
        assert limit.open == 0
        gate.fail = False
        answered = await _call(limit)
        assert answered[0]["status"] == 200 and limit.open == 0

    asyncio.run(scenario())


def test_health_is_neither_counted_nor_refused():
    async def scenario() -> None:
        gate = Gate()
        limit = OpenRequestLimit(gate, 1)
        held = asyncio.create_task(_call(limit))
        await gate.entered.wait()
        health = asyncio.create_task(_call(limit, "/health"))
        await asyncio.sleep(0)
        assert limit.open == 1  # /health went through to the app without a slot
        gate.opened.set()
        assert (await health)[0]["status"] == 200 and (await held)[0]["status"] == 200
        assert limit.open == 0

    asyncio.run(scenario())


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        OpenRequestLimit(Gate(), 0)
