"""The Starlette app: OpenAI's ``/v1`` endpoints, llama-server's ``/infill`` and ``/health``.

Chat goes to the ``chat`` lane, completions and infill to the ``completion``
lane (the same lane when one model serves both). See ``guard`` for the checks
every request passes first.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.core.generation.contracts import GenerationStats
from app.core.generation.stop_text import StopText
from app.engine.client import EngineError
from app.server import requests as parse
from app.server.errors import ApiError, error_body, error_response
from app.server.guard import AuthGuard, GuardSettings, HostGuard
from app.server.roles import Job, Lane

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ENGINE_STATUS = {"context_overflow": 400, "wrong_role": 400, "no_model": 503, "crashed": 503}


@dataclass
class ServerStats:
    """What the window shows: requests taken (the last error is ``GuardSettings.last_error``)."""

    requests: int = 0


def _engine_error(exc: EngineError) -> ApiError:
    status = _ENGINE_STATUS.get(str(exc.kind), 500)
    code = "context_length_exceeded" if str(exc.kind) == "context_overflow" else str(exc.kind)
    return ApiError(status, exc.message, code)


def _finish_reason(stats: GenerationStats | None, stopped: bool) -> str:
    if stopped or stats is None:
        return "stop"
    return "length" if stats.finish_reason in ("length", "time") else "stop"


def _usage(stats: GenerationStats | None) -> dict[str, int]:
    prompt = stats.prompt_tokens if stats else 0
    generated = stats.generated_tokens if stats else 0
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


class JobStream(StreamingResponse):
    """An SSE response that cancels its job when the client goes away (or anything else ends it early)."""

    def __init__(self, job: Job, content: AsyncIterator[str]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.job.ended:
                self.job.cancel()


class Api:
    """The endpoints over the lanes; ``app`` is the ASGI application."""

    def __init__(self, lanes: dict[str, Lane], settings: GuardSettings, cors_origins: tuple[str, ...] = ()) -> None:
        self.lanes = lanes
        self.settings = settings
        self.stats = ServerStats()
        middleware = [Middleware(HostGuard, settings=settings)]
        if cors_origins:
            middleware.append(_cors(cors_origins))
        middleware.append(Middleware(AuthGuard, settings=settings))
        routes = [
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/infill", self.infill, methods=["POST"]),
        ]
        handlers: dict[Any, Callable[..., Any]] = {
            ApiError: self._api_error,
            HTTPException: self._http_error,
            Exception: self._internal_error,
        }
        self.app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)

    # ---- errors -----------------------------------------------------------------

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        self.settings.refused(exc)
        return error_response(exc)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        return error_response(ApiError(exc.status_code, message), dict(exc.headers or {}))

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        self.settings.last_error = f"internal error: {type(exc).__name__} (500)"
        return JSONResponse(error_body(500, f"internal server error ({type(exc).__name__})", "internal_error"), 500)

    # ---- endpoints ----------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        """``GET /health``: no token needed, nothing told."""
        return JSONResponse({"status": "ok"})

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: one entry per loaded model."""
        data, seen = [], set()
        for role, lane in self.lanes.items():
            model = lane.model
            if model is None or lane.model_id in seen:
                continue
            seen.add(lane.model_id)
            meta = {"n_ctx": lane.n_ctx, "family": model.info.family, "roles": [role]}
            data.append({"id": lane.model_id, "object": "model", "created": 0, "owned_by": "fimble", "meta": meta})
        return JSONResponse({"object": "list", "data": data})

    def _lane(self, role: str) -> Lane:
        lane = self.lanes.get(role)
        if lane is None or lane.model is None:
            raise ApiError(503, f"no {role} model is loaded", "no_model")
        return lane

    async def _start(self, request: Request, role: str, build: Callable[..., parse.Parsed]) -> tuple[Lane, Job, Any]:
        """Check the body and queue the job; a stream also waits for its first piece, so that a
        request the engine refuses (wrong role, too long) still gets an HTTP error status."""
        lane = self._lane(role)
        parsed = build(parse.parse_body(await request.body()), lane.n_ctx)
        self.stats.requests += 1
        job = lane.submit(parsed.request)
        if parsed.stream:
            watcher = asyncio.create_task(_cancel_on_disconnect(request, job))
            try:
                await job.first()
            except EngineError as exc:
                raise _engine_error(exc) from None
            finally:
                watcher.cancel()
        return lane, job, parsed

    async def chat(self, request: Request) -> Response:
        """``POST /v1/chat/completions``."""
        lane, job, parsed = await self._start(request, "chat", parse.chat_request)
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": ident, "created": created, "model": lane.model_id}
        if parsed.stream:

            async def events() -> AsyncIterator[str]:
                chunk = {**head, "object": "chat.completion.chunk"}
                yield _sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
                async for piece, stats, stopped in self._pieces(job, parsed.stops):
                    if stats is None:
                        yield _sse({**chunk, "choices": [{"index": 0, "delta": {"content": piece}}]})
                        continue
                    end = {"index": 0, "delta": {}, "finish_reason": _finish_reason(stats, stopped)}
                    yield _sse({**chunk, "choices": [end]})
                    if parsed.include_usage:
                        yield _sse({**chunk, "choices": [], "usage": _usage(stats)})
                yield _sse("[DONE]")

            return JobStream(job, self._guarded(events()))
        text, stats, stopped = await self._collect(request, job, parsed.stops)
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": _finish_reason(stats, stopped)}
        return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": _usage(stats)})

    async def completions(self, request: Request) -> Response:
        """``POST /v1/completions``: ``suffix`` makes it fill-in-the-middle in the model's own layout."""
        lane, job, parsed = await self._start(request, "completion", parse.completion_request)
        head = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time())}
        head["model"] = lane.model_id
        if parsed.stream:

            async def events() -> AsyncIterator[str]:
                async for piece, stats, stopped in self._pieces(job, parsed.stops):
                    choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
                    if stats is not None:
                        choice["finish_reason"] = _finish_reason(stats, stopped)
                    yield _sse({**head, "choices": [choice]})
                    if stats is not None and parsed.include_usage:
                        yield _sse({**head, "choices": [], "usage": _usage(stats)})
                yield _sse("[DONE]")

            return JobStream(job, self._guarded(events()))
        text, stats, stopped = await self._collect(request, job, parsed.stops)
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": _finish_reason(stats, stopped)}
        return JSONResponse({**head, "choices": [choice], "usage": _usage(stats)})

    async def infill(self, request: Request) -> Response:
        """``POST /infill`` as llama-server answers it (what llama.vscode and llama.vim send)."""
        lane, job, parsed = await self._start(request, "completion", parse.infill_request)
        if parsed.stream:

            async def events() -> AsyncIterator[str]:
                async for piece, stats, stopped in self._pieces(job, parsed.stops):
                    if stats is None:
                        yield _sse({"content": piece, "stop": False})
                    else:
                        yield _sse({"content": piece, **_infill_tail(lane, stats, stopped)})

            return JobStream(job, self._guarded(events()))
        text, stats, stopped = await self._collect(request, job, parsed.stops)
        return JSONResponse({"content": text, **_infill_tail(lane, stats, stopped)})

    # ---- reading a job --------------------------------------------------------------

    async def _pieces(
        self, job: Job, stops: tuple[str, ...]
    ) -> AsyncIterator[tuple[str, GenerationStats | None, bool]]:
        """(text, None, False) per piece that is safe to send, then ("", stats, stopped_by_a_stop_string)."""
        scanner = StopText(stops)
        async for item in job.items():
            if isinstance(item, GenerationStats):
                tail = scanner.finish()
                if tail:
                    yield tail, None, False
                yield "", item, scanner.stopped
                return
            text, stopped = scanner.feed(item)
            if stopped:
                job.cancel()
            if text:
                yield text, None, False

    async def _guarded(self, events: AsyncIterator[str]) -> AsyncIterator[str]:
        """A stream that ends with an error event, not a broken connection, when the engine fails."""
        try:
            async for event in events:
                yield event
        except EngineError as exc:
            error = _engine_error(exc)
            self.settings.refused(error)
            yield _sse(error_body(error.status, error.message, error.code))

    async def _collect(
        self, request: Request, job: Job, stops: tuple[str, ...]
    ) -> tuple[str, GenerationStats | None, bool]:
        """The whole answer; the job is cancelled if the client disconnects first."""
        watcher = asyncio.create_task(_cancel_on_disconnect(request, job))
        parts: list[str] = []
        try:
            async for piece, stats, stopped in self._pieces(job, stops):
                if stats is not None:
                    return "".join(parts), stats, stopped
                parts.append(piece)
            return "".join(parts), None, False
        except EngineError as exc:
            raise _engine_error(exc) from None
        finally:
            watcher.cancel()
            if not job.ended:
                job.cancel()


async def _cancel_on_disconnect(request: Request, job: Job) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            job.cancel()
            return


def _infill_tail(lane: Lane, stats: GenerationStats | None, stopped: bool) -> dict[str, Any]:
    """The fields after ``content`` in llama-server's infill answer, from the engine's own counts."""
    generated = stats.generated_tokens if stats else 0
    decode_ms = max((stats.total_ms - stats.ttft_ms) if stats else 0.0, 0.0)
    stop_type = "word" if stopped else ("limit" if stats and stats.finish_reason in ("length", "time") else "eos")
    return {
        "stop": True,
        "model": lane.model_id,
        "tokens_predicted": generated,
        "tokens_evaluated": stats.prompt_tokens if stats else 0,
        "tokens_cached": stats.reused_tokens if stats else 0,
        "truncated": False,
        "stop_type": stop_type,
        "timings": {
            "prompt_n": (stats.prompt_tokens - stats.reused_tokens) if stats else 0,
            "prompt_ms": stats.prompt_ms if stats else 0.0,
            "predicted_n": generated,
            "predicted_ms": decode_ms,
            "predicted_per_second": stats.tokens_per_s if stats else 0.0,
        },
    }


def _cors(origins: tuple[str, ...]) -> Middleware:
    """CORS for exactly the listed origins; ``*`` inside one is a wildcard (``vscode-webview://*``)."""
    exact = [o for o in origins if "*" not in o]
    patterns = [re.escape(o).replace(r"\*", "[^/]*") for o in origins if "*" in o]
    return Middleware(
        CORSMiddleware,
        allow_origins=exact,
        allow_origin_regex="|".join(f"(?:{p})" for p in patterns) or None,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
