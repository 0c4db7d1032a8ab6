"""Remote server failures as one line each: ``RemoteError`` and the mapping from HTTP answers and socket errors.

Error bodies come in two shapes, OpenAI's ``{"error": {"message": ...}}`` and
FastAPI's ``{"detail": ...}``; ``error_detail`` reads both (and a few others).
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import ssl
import time

import httpx2

from app.core.errors import ErrorKind, UserFacingError

log = logging.getLogger(__name__)

_CLIP = 160  # characters of a server's words kept in a message


class RemoteError(UserFacingError):
    """A remote server could not be used; ``message`` is one line for people."""


def clip(text: str) -> str:
    """``text`` on one line, cut to a readable length."""
    line = " ".join(text.split())
    return line if len(line) <= _CLIP else line[: _CLIP - 1] + "…"


def error_detail(body: object) -> str:
    """The server's own words from an error body, OpenAI style or FastAPI style, or ''."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return clip(str(error["message"]))
        if isinstance(error, str) and error:
            return clip(error)
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return clip(detail)
        if isinstance(detail, list) and detail:
            first = detail[0]
            if isinstance(first, dict) and first.get("msg"):
                where = ".".join(str(part) for part in first.get("loc", []) if part != "body")
                return clip(f"{where}: {first['msg']}" if where else str(first["msg"]))
        if isinstance(body.get("message"), str) and body["message"]:
            return clip(body["message"])
    return ""


def retry_after_s(value: str | None) -> int | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0, math.ceil(float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, math.ceil(when.timestamp() - time.time()))


def caused_by(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def status_error(response: httpx2.Response, *, has_key: bool, model: object = None) -> RemoteError:
    """One line for an HTTP error answer (``model``: the model the request named, if any)."""
    status = response.status_code
    try:
        detail = error_detail(response.json())
    except ValueError:
        detail = clip(response.text) if response.text.strip() else ""
    log.info("%s %s answered %s: %s", response.request.method, response.request.url.path, status, detail)
    if status in (401, 403):
        if has_key:
            return RemoteError(ErrorKind.AUTH, "the server refused the API key; check it")
        return RemoteError(ErrorKind.AUTH, "the server needs an API key; set one")
    if status == 404:
        if isinstance(model, str) and model:
            return RemoteError(ErrorKind.NOT_FOUND, f"the server has no model {model!r}" + _tail(detail))
        return RemoteError(ErrorKind.NOT_FOUND, f"{response.request.url.path} not found on the server" + _tail(detail))
    if status in (429, 503):
        wait = retry_after_s(response.headers.get("retry-after"))
        when = f"retry in {wait} s" if wait is not None else "retry later"
        return RemoteError(ErrorKind.BUSY, f"the server is busy; {when}")
    if status in (400, 413, 422) and _TOO_LONG.search(detail):
        return RemoteError(ErrorKind.CONTEXT_OVERFLOW, f"the prompt is too long for the server: {detail}")
    if 400 <= status < 500:
        return RemoteError(ErrorKind.BAD_REQUEST, f"the server rejected the request ({status})" + _tail(detail))
    return RemoteError(ErrorKind.HTTP, f"the server failed ({status})" + _tail(detail))


def transport_error(
    exc: httpx2.HTTPError, base_url: str, *, connect_timeout_s: float, read_timeout_s: float, streaming: bool = False
) -> RemoteError:
    """One line for a failed connection, timeout or broken transfer."""
    log.info("request to %s failed: %s", base_url, type(exc).__name__)
    tls = caused_by(exc, ssl.SSLError)
    if tls is not None or "SSL" in str(exc) or "TLS" in str(exc):
        reason = getattr(tls, "reason", None) or clip(str(tls or exc))
        return RemoteError(ErrorKind.TLS, f"TLS error talking to {base_url}: {reason}")
    if isinstance(exc, httpx2.ConnectTimeout):
        return RemoteError(ErrorKind.TIMEOUT, f"cannot reach {base_url}: no answer in {connect_timeout_s:g} s")
    if isinstance(exc, httpx2.TimeoutException):
        return RemoteError(ErrorKind.TIMEOUT, f"{base_url} sent nothing for {read_timeout_s:g} s (timeout)")
    if isinstance(exc, httpx2.ConnectError):
        refused = caused_by(exc, ConnectionRefusedError) is not None or "refused" in str(exc).lower()
        reason = "connection refused" if refused else clip(str(exc)) or "connection failed"
        return RemoteError(ErrorKind.OFFLINE, f"cannot reach {base_url}: {reason}")
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)) and streaming:
        return RemoteError(ErrorKind.HTTP, f"{base_url} closed the connection mid-answer (partial answer)")
    if isinstance(exc, (httpx2.SSEError, httpx2.DecodingError, httpx2.ProtocolError)):
        return RemoteError(ErrorKind.BAD_REPLY, f"{base_url} sent a garbled answer: {clip(str(exc))}")
    return RemoteError(ErrorKind.HTTP, f"request to {base_url} failed: {clip(str(exc)) or type(exc).__name__}")


# How servers say a prompt does not fit: vLLM "maximum context length", llama-server "exceeds the
# available context size", TGI "inputs tokens + max_new_tokens must be <= 4096", llama-cpp-python
# "exceed context window".
_TOO_LONG = re.compile(r"context (length|size|window)|must be <= ?\d+|prompt is too long", re.IGNORECASE)


def _tail(detail: str) -> str:
    return f": {detail}" if detail else ""
