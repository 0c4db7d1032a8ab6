"""One HTTP client for OpenAI-compatible servers: JSON look-ups and SSE text streams.

``RemoteClient`` talks to llama-server, llama-cpp-python, TGI, vLLM, Ollama's
``/v1``, LM Studio and Inference Endpoints over ``httpx2`` (already needed by
the Hub code), whose built-in ``EventSource`` parses the SSE stream. Every
failure becomes a ``RemoteError``: a ``UserFacingError`` with one line a
person can act on ("cannot reach http://host:8000: connection refused", "the
server refused the API key; check it", "the server is busy; retry in 5 s").

Cancel and time limits, and why the client is synchronous: the stream is read
by the caller's thread with a blocking client. A blocked ``recv`` is not woken
by closing the response from another thread, so each stream has a small
watcher thread that, once ``cancel`` is set or the time limit passes, shuts
the connection's socket down (``shutdown(SHUT_RDWR)``). That wakes the blocked
read at once on every platform, the server sees the disconnect, and the
generator ends quietly. The socket is known from the moment the connection is
made (a connection trace hook), or from the response for a reused one. The
read timeout bounds the gap between two chunks, so a silent server never
hangs a stream; ``max_tokens`` in the body bounds servers that ignore
disconnects. A loop thread with an asyncio client would do the same with
more machinery and a second thread per request.

The API key is sent as ``Authorization: Bearer``; it is never logged.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx2

from app.core.errors import ErrorKind
from app.engine.remote.errors import RemoteError, clip, error_detail, status_error, transport_error

__all__ = ["RemoteClient", "RemoteError"]

log = logging.getLogger(__name__)

_WRITE_TIMEOUT_S = 10.0


class _Stopper:
    """Shuts a stream's socket down from a watcher thread when it is cancelled or out of time."""

    def __init__(self, cancel: threading.Event, deadline: float | None) -> None:
        self._cancel = cancel
        self._deadline = deadline
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self.reason: str | None = None  # "cancelled" or "time_limit" once it fired
        self._thread = threading.Thread(target=self._watch, name="remote-stream-stopper", daemon=True)
        self._thread.start()

    def check(self) -> str | None:
        """Why the stream must stop now, or None; also fires the shutdown."""
        if self.reason is None:
            if self._cancel.is_set():
                self._fire("cancelled")
            elif self._deadline is not None and time.monotonic() >= self._deadline:
                self._fire("time_limit")
        return self.reason

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore trace hook: remember the socket as soon as the connection exists."""
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            self.attach(info.get("return_value"))

    def attach(self, stream: object) -> None:
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if callable(get_extra_info) else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._socket = sock
            if self.reason is not None:
                self._shutdown()

    def finish(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.check() is not None:
                return
            wait = 0.05
            if self._deadline is not None:
                wait = max(0.0, min(wait, self._deadline - time.monotonic()))
            if self._cancel.wait(wait):
                self.check()
                return

    def _fire(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            sock = self._socket
        if sock is None or self._done.is_set():
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


def _first_choice(chunk: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _completion_text(chunk: Mapping[str, Any]) -> str:
    text = _first_choice(chunk).get("text")
    return text if isinstance(text, str) else ""


def _native_text(chunk: Mapping[str, Any]) -> str:
    text = chunk.get("content")
    return text if isinstance(text, str) else ""


# llama-server's own stop types (its native endpoints), as OpenAI finish reasons.
_NATIVE_FINISH = {"eos": "stop", "word": "stop", "limit": "length"}


def _chat_text(chunk: Mapping[str, Any]) -> str:
    delta = _first_choice(chunk).get("delta")
    text = delta.get("content") if isinstance(delta, dict) else None
    return text if isinstance(text, str) else ""


class RemoteClient:
    """JSON and streamed completions from one OpenAI-compatible server.

    One stream at a time per client: ``last_finish`` and ``last_usage`` describe
    the latest stream once it has ended.

    Args:
        base_url: The server root, e.g. ``http://gpu-box:8000`` (no ``/v1``).
        api_key: Sent as a bearer token when given.
        connect_timeout_s: Limit on making a connection.
        read_timeout_s: Limit on the gap between two pieces of an answer.

    Attributes:
        last_finish: The latest stream's ``finish_reason`` ("stop", "length"), or
            "cancelled" / "time_limit" when the client ended it, or None.
        last_usage: Token counts the server sent with the latest stream, if any.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._has_key = bool(api_key)
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx2.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=_WRITE_TIMEOUT_S, pool=None)
        self._http = httpx2.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.last_finish: str | None = None
        self.last_usage: dict[str, int] | None = None
        self.last_timings: dict[str, float] | None = None  # llama-server's prompt_n, cache_n, prompt_ms, …

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------

    def get_json(self, path: str) -> object | None:
        """``GET path`` as JSON; None when the server has no such path or answers non-JSON."""
        return self._json("GET", path, None, strict=False)

    def post_json(self, path: str, body: dict[str, Any]) -> object | None:
        """``POST path`` with a JSON body, answered as JSON; None when the server has no such path."""
        return self._json("POST", path, body, strict=True)

    def _json(self, method: str, path: str, body: dict[str, Any] | None, *, strict: bool) -> object | None:
        """One JSON request; an answer that is not JSON is None, or a bad reply when ``strict``."""
        try:
            response = self._http.request(method, path, json=body)
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc) from exc
        log.debug("%s %s%s -> %s", method, self.base_url, path, response.status_code)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise status_error(response, has_key=self._has_key)
        try:
            result: object = response.json()
        except ValueError:
            if strict:
                raise RemoteError(ErrorKind.BAD_REPLY, f"{self.base_url}{path} did not answer with JSON") from None
            return None
        return result

    def stream_completion(
        self, body: dict[str, Any], cancel: threading.Event, time_limit_s: float | None = None
    ) -> Iterator[str]:
        """Stream ``POST /v1/completions``: the text pieces, until done, cancelled or out of time."""
        return self._stream("/v1/completions", body, cancel, time_limit_s, _completion_text)

    def stream_infill(
        self, body: dict[str, Any], cancel: threading.Event, time_limit_s: float | None = None
    ) -> Iterator[str]:
        """Stream llama-server's ``POST /infill`` (its own format: ``content`` pieces, ``stop`` at the end)."""
        return self._stream("/infill", body, cancel, time_limit_s, _native_text)

    def stream_chat(
        self, body: dict[str, Any], cancel: threading.Event, time_limit_s: float | None = None
    ) -> Iterator[str]:
        """Stream ``POST /v1/chat/completions``: the ``delta.content`` pieces."""
        return self._stream("/v1/chat/completions", body, cancel, time_limit_s, _chat_text)

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        cancel: threading.Event,
        time_limit_s: float | None,
        text_of: Callable[[Mapping[str, Any]], str],
    ) -> Iterator[str]:
        self.last_finish = None
        self.last_usage = None
        self.last_timings = None
        if cancel.is_set():
            self.last_finish = "cancelled"
            return
        payload = dict(body, stream=True)
        deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
        stopper = _Stopper(cancel, deadline)
        ended = False
        try:
            with self._http.stream(
                "POST",
                path,
                json=payload,
                headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
                extensions={"trace": stopper.trace},
            ) as response:
                stopper.attach(response.extensions.get("network_stream"))
                log.debug("POST %s%s (stream) -> %s", self.base_url, path, response.status_code)
                if stopper.check() is not None:
                    return
                if response.status_code >= 400:
                    response.read()
                    raise status_error(response, has_key=self._has_key, model=payload.get("model"))
                kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if kind != "text/event-stream":
                    raise RemoteError(
                        ErrorKind.BAD_REPLY, f"{self.base_url} did not answer with a stream (content type {kind!r})"
                    )
                for event in httpx2.EventSource(response):
                    if stopper.check() is not None:
                        return
                    data = event.data.strip()
                    if not data:
                        continue
                    if data == "[DONE]":
                        ended = True
                        break
                    text = self._take(data, text_of)
                    if text:
                        yield text
                    if stopper.check() is not None:
                        return
                if not ended and self.last_finish is None and stopper.check() is None:
                    raise RemoteError(ErrorKind.HTTP, f"{self.base_url} ended the answer early (stream cut off)")
        except httpx2.HTTPError as exc:
            if stopper.check() is not None:
                return
            raise self._transport_error(exc, streaming=True) from exc
        finally:
            if stopper.reason is not None:
                self.last_finish = stopper.reason
            stopper.finish()

    def _take(self, data: str, text_of: Callable[[Mapping[str, Any]], str]) -> str:
        """The text of one SSE data line; records the finish reason and usage."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise RemoteError(
                ErrorKind.BAD_REPLY, f"{self.base_url} sent a garbled stream (not JSON): {clip(data)!r}"
            ) from None
        if not isinstance(chunk, dict):
            raise RemoteError(ErrorKind.BAD_REPLY, f"{self.base_url} sent a garbled stream: {clip(data)!r}")
        if "error" in chunk:
            detail = error_detail(chunk) or clip(data)
            raise RemoteError(ErrorKind.HTTP, f"the server stopped with an error: {detail}")
        reason = _first_choice(chunk).get("finish_reason")
        if isinstance(reason, str) and reason:
            self.last_finish = reason
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.last_usage = {key: value for key, value in usage.items() if isinstance(value, int)}
        timings = chunk.get("timings")
        if isinstance(timings, dict):  # llama-server: what its prompt evaluation took
            self.last_timings = {k: float(v) for k, v in timings.items() if isinstance(v, (int, float))}
        if chunk.get("stop") is True:  # the last chunk of a native llama-server stream
            self.last_finish = _NATIVE_FINISH.get(str(chunk.get("stop_type")), "stop")
            counts = {
                "completion_tokens": chunk.get("tokens_predicted"),
                "prompt_tokens": chunk.get("tokens_evaluated"),
            }
            self.last_usage = {key: value for key, value in counts.items() if isinstance(value, int)}
        return text_of(chunk)

    # -- errors ------------------------------------------------------------

    def _transport_error(self, exc: httpx2.HTTPError, *, streaming: bool = False) -> RemoteError:
        return transport_error(
            exc,
            self.base_url,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            streaming=streaming,
        )
