"""Which kind of server answers at a base URL, read from its own metadata.

A remote engine is any server with the OpenAI-compatible API; several kinds
offer more (token-id prompts, a tokenizer endpoint) or have limits (TGI caps
the number of stop strings). ``detect_server`` turns the bodies of a few light
GET requests into ``ServerFacts``; the HTTP client makes the requests and
passes ``None`` for each one that failed or answered 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from app.core.remote.choice import where


class RemoteFormatError(ValueError):
    """A server's metadata did not say which model it serves."""


class ServerKind(str, Enum):
    """The server software behind a base URL."""

    LLAMA_SERVER = "llama-server"
    LLAMA_CPP_PYTHON = "llama-cpp-python"
    TGI = "tgi"
    VLLM = "vllm"
    OLLAMA = "ollama"
    GENERIC = "openai-compatible"

    @property
    def label(self) -> str:
        """Return the name people know the server by."""
        return _LABELS[self]

    @property
    def llama_cpp_tokenizer(self) -> bool:
        """Say whether string prompts are tokenized by llama.cpp's tokenizer.

        Such servers read a control token in text only under its exact
        vocabulary spelling (Code Llama's ``▁<PRE>``); Hugging Face tokenizers
        (TGI, vLLM) read the plain ``<PRE>``. Ollama's own Code Llama template
        writes the plain spelling, and an unknown server is taken to do the same.
        """
        return self in (ServerKind.LLAMA_SERVER, ServerKind.LLAMA_CPP_PYTHON)


_LABELS = {
    ServerKind.LLAMA_SERVER: "llama.cpp server",
    ServerKind.LLAMA_CPP_PYTHON: "llama-cpp-python server",
    ServerKind.TGI: "Text Generation Inference",
    ServerKind.VLLM: "vLLM",
    ServerKind.OLLAMA: "Ollama",
    ServerKind.GENERIC: "OpenAI-compatible server",
}

# Kinds whose /v1/completions takes a prompt of token ids; those prompts get
# no BOS from the server, and user text tokenized there can't become a control token.
_TOKEN_ID_KINDS = frozenset({ServerKind.LLAMA_SERVER, ServerKind.VLLM})
# Kinds with a tokenizer endpoint worth using (llama-server, vLLM and TGI's /tokenize).
_TOKENIZE_KINDS = frozenset({ServerKind.LLAMA_SERVER, ServerKind.VLLM, ServerKind.TGI})


@dataclass(frozen=True)
class ServerFacts:
    """What a server said about itself and the model it serves.

    ``adds_bos_to_strings``: the server puts the BOS token in front of a
    string prompt when the model wants one, so a prompt string must never
    start with the BOS text. ``max_stop_sequences``: how many stop strings one
    request may carry (TGI's limit), None when unlimited or unknown.
    ``model_ids``: every model ``/v1/models`` lists, in its order.
    """

    kind: ServerKind
    model_id: str
    context_length: int | None = None
    max_stop_sequences: int | None = None
    accepts_token_ids: bool = False
    adds_bos_to_strings: bool = True
    has_tokenize: bool = False
    version: str | None = None
    model_ids: tuple[str, ...] = ()


def detect_server(props: object, info: object, ollama_version: object, models: object) -> ServerFacts:
    """Tell the server kind and its model from the bodies of light GET requests.

    Args:
        props: The JSON of ``GET /props`` (llama-server), or None.
        info: The JSON of ``GET /info`` (TGI), or None.
        ollama_version: The JSON of ``GET /api/version`` (Ollama), or None.
        models: The JSON of ``GET /v1/models``, or None.

    Returns:
        The facts; the first of the above that matches decides the kind.

    Raises:
        RemoteFormatError: Nothing names a model.
    """
    return replace(_detect(props, info, ollama_version, models), model_ids=_model_ids(models))


def _detect(props: object, info: object, ollama_version: object, models: object) -> ServerFacts:
    props_d, info_d, version_d, first = _obj(props), _obj(info), _obj(ollama_version), _first_model(models)
    listed = _text(first, "id")
    settings = _obj(props_d.get("default_generation_settings")) if props_d is not None else None
    if props_d is not None and settings is not None:
        path = _text(props_d, "model_path")
        model = listed or (_basename(path) if path else None)
        return ServerFacts(
            ServerKind.LLAMA_SERVER,
            _require(model, models),
            context_length=_count(settings, "n_ctx"),
            accepts_token_ids=True,
            has_tokenize=True,
            version=_text(props_d, "build_info"),
        )
    if info_d is not None and "model_id" in info_d and "max_stop_sequences" in info_d:
        context = _count(info_d, "max_total_tokens") or _count(info_d, "max_input_tokens")
        return ServerFacts(
            ServerKind.TGI,
            _require(listed or _text(info_d, "model_id"), models),
            context_length=context or _count(info_d, "max_input_length"),
            max_stop_sequences=_count(info_d, "max_stop_sequences"),
            has_tokenize=True,
            version=_text(info_d, "version"),
        )
    if version_d is not None and _text(version_d, "version") is not None:
        return ServerFacts(ServerKind.OLLAMA, _require(listed, models), version=_text(version_d, "version"))
    kind = _OWNERS.get(_text(first, "owned_by") or "", ServerKind.GENERIC)
    context = _count(first, "max_model_len")
    if kind is ServerKind.LLAMA_SERVER:
        context = _count(_obj(first.get("meta")) if first is not None else None, "n_ctx")
    return ServerFacts(
        kind,
        _require(listed, models),
        context_length=context,
        accepts_token_ids=kind in _TOKEN_ID_KINDS,
        has_tokenize=kind in _TOKENIZE_KINDS,
    )


# /v1/models "owned_by" values that name the server software.
_OWNERS = {"vllm": ServerKind.VLLM, "llamacpp": ServerKind.LLAMA_SERVER, "me": ServerKind.LLAMA_CPP_PYTHON}


def _require(model: str | None, models: object) -> str:
    if model:
        return model
    if models is None:
        raise RemoteFormatError(
            "the server did not answer /v1/models, /props or /info with a model; is this an OpenAI-compatible server?"
        )
    raise RemoteFormatError("the server's /v1/models lists no model; load or pull a model on the server first")


def _obj(value: object) -> dict[str, object] | None:
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return dict(value)
    return None


def _model_ids(models: object) -> tuple[str, ...]:
    body = _obj(models)
    data = body.get("data") if body is not None else None
    if not isinstance(data, list):
        return ()
    return tuple(item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str))


def _first_model(models: object) -> dict[str, object] | None:
    body = _obj(models)
    data = body.get("data") if body is not None else None
    if isinstance(data, list) and data:
        return _obj(data[0])
    return None


def _text(body: dict[str, object] | None, key: str) -> str | None:
    value = body.get(key) if body is not None else None
    return value if isinstance(value, str) and value else None


def _count(body: dict[str, object] | None, key: str) -> int | None:
    value = body.get(key) if body is not None else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


# Family keys as registered in app.core.generation.families.
_FAMILY_PATTERNS = (
    # Only CodeGemma: other Gemma models (the starter's Gemma 3 among them) have no FIM layout.
    ("codegemma", re.compile(r"code[-_ ]?gemma", re.IGNORECASE)),
    ("codellama", re.compile(r"code[-_ ]?llama", re.IGNORECASE)),
)


def guess_family(*names: str) -> str | None:
    """Guess the model family from model ids, paths or Ollama tags.

    Args:
        names: Whatever names the model (``google/codegemma-7b-it``,
            ``/models/codellama-7b.Q4_K_M.gguf``, ``codegemma:7b-code``); the
            first one that matches a family decides.

    Returns:
        ``"codegemma"``, ``"codellama"``, or None when no name matches.
    """
    for name in names:
        for family, pattern in _FAMILY_PATTERNS:
            if pattern.search(name):
                return family
    return None


def display_name(model_id: str) -> str:
    """Return the last part of a model id or path, without ``.gguf``."""
    name = _basename(model_id) or model_id
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


def describe(facts: ServerFacts, base_url: str) -> str:
    """Say in one line which model serves where, as the status bar shows it.

    Example: ``codegemma-7b-it on gpu-box:8000 (Text Generation Inference, 8,192 tokens)``.
    """
    details = facts.kind.label
    if facts.context_length:
        details += f", {facts.context_length:,} tokens"
    return f"{display_name(facts.model_id)} on {where(base_url)} ({details})"
