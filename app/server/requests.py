"""JSON bodies of the OpenAI and llama-server endpoints, checked and turned into core requests.

Everything here is plain data: a wrong type, a huge number or an unsupported
feature raises ``ApiError(400, …)`` with one line that names the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.core.fim.text_layouts import split_fim_text
from app.core.generation.contracts import ChatMessage, ChatRequest, ContextChunk, FimRequest, Sampling
from app.server.errors import ApiError

# Larger numbers are refused rather than silently capped (they are always mistakes).
MAX_INT = 2**31 - 1
MAX_STOPS = 8
# Features Fimble does not serve, with the value that means "not used".
_OPENAI_UNSUPPORTED: dict[str, Any] = {
    "n": 1,
    "best_of": 1,
    "tools": None,
    "tool_choice": None,
    "functions": None,
    "function_call": None,
    "logprobs": None,
    "top_logprobs": None,
    "logit_bias": None,
    "echo": False,
    "audio": None,
    "modalities": None,
    "prediction": None,
    "parallel_tool_calls": None,
}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class Parsed:
    """A checked request: what to run and how to answer."""

    request: FimRequest | ChatRequest
    stream: bool
    include_usage: bool
    stops: tuple[str, ...]
    model: str


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``.

    Raises:
        ApiError: 400 when it is not valid UTF-8 JSON or not an object.
    """
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ApiError(400, f"the request body is not valid JSON: {reason}", "invalid_json") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# ---- fields -------------------------------------------------------------------


def _bad(name: str, what: str) -> ApiError:
    return ApiError(400, f"'{name}' must be {what}", "invalid_value", name)


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int = MAX_INT) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INT:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(name, f"an integer from {low} to {high}")
    return value


def _float(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    # The range check also refuses NaN and infinities, and a huge integer (math.isfinite would overflow on it).
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(name, f"a number from {low} to {high}")
    return float(value)


def _bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, "true or false")
    return value


def _text(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(name, "a string")
    return value


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_STOPS or not all(isinstance(s, str) for s in value):
        raise _bad("stop", f"a string or a list of at most {MAX_STOPS} strings")
    return tuple(s for s in value if s)


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name, unused in _OPENAI_UNSUPPORTED.items():
        value = body.get(name)
        if value is None or value == unused or (value == [] or value == {}):
            continue
        raise ApiError(400, f"'{name}' is not supported by this server", "unsupported_parameter", name)
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise ApiError(400, "'response_format' other than text is not supported", "unsupported_parameter")


def _sampling(body: dict[str, Any], max_tokens: int, temperature: float, time_limit_s: float | None) -> Sampling:
    return Sampling(
        max_tokens=max_tokens,
        temperature=_float(body, "temperature", temperature, 0.0, 2.0),
        top_p=_float(body, "top_p", 0.95, 0.0, 1.0),
        top_k=_int(body, "top_k", 40, 0, 1_000_000),
        min_p=_float(body, "min_p", 0.05, 0.0, 1.0),
        repeat_penalty=_float(body, "repeat_penalty", 1.0, 0.0, 10.0),
        seed=_int(body, "seed", -1, -MAX_INT) if body.get("seed") is not None else None,
        time_limit_s=time_limit_s,
        ignore_eos=_bool(body, "ignore_eos"),  # llama-server's and vLLM's field: answer to max_tokens
    )


def _max_tokens(body: dict[str, Any], names: tuple[str, ...], default: int, n_ctx: int) -> int:
    """The token budget: the first field given, -1 meaning "until the context is full"; capped at the context."""
    for name in names:
        if body.get(name) is not None:
            value = _int(body, name, default, -1)
            return n_ctx if value in (-1, 0) and name == "n_predict" else min(max(value, 1), n_ctx)
    return min(default, n_ctx)


def _fim_budgets(n_ctx: int, max_tokens: int) -> tuple[int, int]:
    """Prefix and suffix token windows that leave room for the answer (the prompt gets at least half the context)."""
    room = max(n_ctx - max_tokens, n_ctx // 2, 2)
    suffix = room // 4
    return max(room - suffix, 1), suffix


# ---- endpoints ------------------------------------------------------------------


def _content(value: Any, index: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}]: only text content is supported", "unsupported_content")
            parts.append(part["text"])
        return "".join(parts)
    if value is None:
        return ""
    raise _bad(f"messages[{index}].content", "a string or a list of text parts")


def chat_request(body: dict[str, Any], n_ctx: int) -> Parsed:
    """``POST /v1/chat/completions``."""
    _refuse_unsupported(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "a non-empty list")
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"messages[{index}]", "an object")
        role = _ROLES.get(message.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise ApiError(400, f"messages[{index}]: role must be system, user or assistant", "invalid_value")
        turns.append(ChatMessage(role, _content(message.get("content"), index)))
    if turns[-1].role != "user":
        raise ApiError(400, "the last message must be the user's", "invalid_value", "messages")
    max_tokens = _max_tokens(body, ("max_completion_tokens", "max_tokens"), n_ctx, n_ctx)
    return Parsed(
        ChatRequest(tuple(turns), _sampling(body, max_tokens, 0.7, None)),
        _bool(body, "stream"),
        _include_usage(body),
        _stops(body),
        _text(body, "model"),
    )


def completion_request(body: dict[str, Any], n_ctx: int) -> Parsed:
    """``POST /v1/completions``: a suffix, or a FIM template in the prompt, means fill-in-the-middle."""
    _refuse_unsupported(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise _bad("prompt", "a string (one prompt per request)")
    max_tokens = _max_tokens(body, ("max_tokens",), 16, n_ctx)
    prefix_tokens, suffix_tokens = _fim_budgets(n_ctx, max_tokens)
    suffix = _text(body, "suffix")
    laid_out = None if suffix else split_fim_text(prompt)  # a plugin's FIM template, written as text
    if laid_out is not None:
        prompt, suffix = laid_out
    request = FimRequest(
        prefix=prompt,
        suffix=suffix,
        sampling=_sampling(body, max_tokens, 0.0, None),
        allow_prefix_only=not suffix and laid_out is None,
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
    )
    return Parsed(request, _bool(body, "stream"), _include_usage(body), _stops(body), _text(body, "model"))


def infill_request(body: dict[str, Any], n_ctx: int) -> Parsed:
    """``POST /infill`` with llama-server's fields; those Fimble has no use for are ignored."""
    chunks = []
    extra = body.get("input_extra") or []
    if not isinstance(extra, list):
        raise _bad("input_extra", "a list of {filename, text} objects")
    for index, chunk in enumerate(extra):
        if not isinstance(chunk, dict):
            raise _bad(f"input_extra[{index}]", "a {filename, text} object")
        chunks.append(ContextChunk(_text(chunk, "filename"), _text(chunk, "text")))
    max_tokens = _max_tokens(body, ("n_predict",), n_ctx, n_ctx)
    limit_ms = _int(body, "t_max_predict_ms", 0, 0)
    sampling = _sampling(body, max_tokens, 0.0, limit_ms / 1000 if limit_ms else None)
    prefix_tokens, suffix_tokens = _fim_budgets(n_ctx, max_tokens)
    request = FimRequest(
        prefix=_text(body, "input_prefix") + _text(body, "prompt"),
        suffix=_text(body, "input_suffix"),
        chunks=tuple(chunks),
        sampling=sampling,
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
    )
    return Parsed(request, _bool(body, "stream"), False, _stops(body), _text(body, "model"))


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise _bad("stream_options", "an object")
    return _bool(options, "include_usage")
