"""``Engine`` over an OpenAI-compatible server: chat and FIM without a local model.

The server is asked what it is once (``start``); ``load`` picks the model it
serves and the prompt family. FIM prompts are the family's exact text, with
any control-token text in the user's code broken first (see
``core/remote/prompts``); chat goes as messages. Every request streams, stops
on the family's stop strings within the server's limit, is capped by
``max_tokens`` and a time limit, and is cancelled by closing its stream.
Text of control tokens that leaks anyway is cut before it is shown.

On llama-server the FIM prompt goes as token ids built by the local family
module over the server's tokenizer, with ``cache_prompt``, ``n_indent`` and
``t_max_predict_ms``; on vLLM the family's stop tokens also go as
``stop_token_ids`` (see ``token_prompts``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from app.core.errors import ErrorKind
from app.core.fim.budget import SNAP_LINES
from app.core.fim.context import fit_window
from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.generation.families import PromptError
from app.core.models.info import ModelInfo
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.core.remote.prompts import fim_text, neutralize_messages, stop_strings, trim_leaked
from app.core.remote.servers import ServerFacts, ServerKind, describe, detect_server, display_name, guess_family
from app.engine.client import Engine, EngineError
from app.engine.remote.client import RemoteClient
from app.engine.remote.errors import RemoteError
from app.engine.remote.token_prompts import (
    LlamaServerPrompts,
    cursor_indent,
    infill_fields,
    llama_server_infills,
    vllm_stop_token_ids,
)

log = logging.getLogger(__name__)

# Characters per token assumed when cutting a FIM window without the server's tokenizer.
CHARS_PER_TOKEN = 3
# The families whose FIM layout Fimble knows.
FIM_FAMILIES = ("codegemma", "codellama")
# A request that has not finished after this long is ended by the client.
DEFAULT_TIME_LIMIT_S = 60.0


def probe_server(client: RemoteClient) -> ServerFacts:
    """Ask the server what it is: llama-server's /props, TGI's /info, Ollama's version, /v1/models."""

    def optional(path: str) -> object | None:
        try:
            return client.get_json(path)
        except RemoteError as exc:
            if exc.kind in (ErrorKind.OFFLINE, ErrorKind.AUTH):
                raise  # the server is unreachable or refuses the key: say so now
            return None

    props, info, version = optional("/props"), optional("/info"), optional("/api/version")
    return detect_server(props, info, version, client.get_json("/v1/models"))


class RemoteEngine(Engine):
    """One role's engine on a remote server.

    Args:
        role: "chat" or "completion" (for messages).
        base_url: The server's root URL.
        api_key: The bearer token, if the server wants one.
        family: The prompt family; None guesses it from the model id.
    """

    def __init__(self, role: str, base_url: str, api_key: str | None = None, *, family: str | None = None) -> None:
        self.role = role
        self.base_url = base_url.rstrip("/")
        self.backend = BackendInfo(backend="Remote")
        self.facts: ServerFacts | None = None
        self.family = family
        self.model_id = ""
        self._client = RemoteClient(self.base_url, api_key)
        # llama-server: FIM prompts as token ids; vLLM: the ids of the family's stop tokens.
        self.token_prompts: LlamaServerPrompts | None = None
        self.stop_token_ids: list[int] = []
        self.infill = False  # llama-server lays out FIM prompts for a model Fimble has no layout for
        self.offers_fim = False  # set by load: FIM requests can be served
        self._extras_for: tuple[ServerKind, str, str] | None = None
        self._cancel = threading.Event()
        self._job: int | None = None
        self._lock = threading.Lock()

    # ---- life cycle -----------------------------------------------------------------

    def start(self) -> BackendInfo:
        """Ask the server what it is."""
        try:
            self.facts = probe_server(self._client)
        except RemoteError as exc:
            raise EngineError(exc.kind, exc.message) from None
        except ValueError as exc:
            raise EngineError(ErrorKind.BAD_REPLY, f"{self.base_url}: {exc}") from None
        self.backend = BackendInfo(backend="Remote", system_info=describe(self.facts, self.base_url))
        return self.backend

    def is_alive(self) -> bool:
        """Whether the server answered ``start``."""
        return self.facts is not None

    def load(
        self,
        path: str,
        params: LoadParams,
        *,
        vocab_only: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> LoadedModel:
        """Use the model ``path`` names on the server ("" for the one it serves)."""
        started = time.perf_counter()
        facts = self.facts
        if facts is None:
            self.start()
            facts = self.facts
        assert facts is not None
        self.model_id = path or facts.model_id
        self.family = self.family or guess_family(self.model_id, facts.model_id) or "generic"
        self._use_server_extras(facts)
        if on_progress is not None:
            on_progress(1.0)
        fim = self.family in FIM_FAMILIES
        if self.token_prompts is not None:  # the server's vocabulary says
            fim = self.token_prompts.has_fim or self.infill
        self.offers_fim = fim
        info = ModelInfo(
            path=f"{self.base_url}/v1/models/{self.model_id}",
            name=display_name(self.model_id),
            architecture="remote",
            family=self.family,
            file_type="remote",
            context_length=facts.context_length,
            parameters=0,
            has_chat_template=True,
            size_bytes=0,
            fim={} if fim else None,
            can_chat=True,
            n_layers=None,
            weights_bytes=0,
        )
        return LoadedModel(
            info=info,
            n_ctx=facts.context_length or 0,
            load_ms=(time.perf_counter() - started) * 1000,
            params=params,
            vocab_only=vocab_only,
        )

    def _use_server_extras(self, facts: ServerFacts) -> None:
        """Look up what the server offers beyond the common API, once per model.

        llama-server: token-id FIM prompts (see ``token_prompts``), or its
        ``/infill`` for a model Fimble has no FIM layout for; without a usable
        ``/tokenize`` the text prompts stay. vLLM: ``stop_token_ids``.
        """
        family = self.family or "generic"
        key = (facts.kind, self.model_id, family)
        if key == self._extras_for:
            return  # looked up for this model already
        self.token_prompts, self.stop_token_ids, self.infill, self._extras_for = None, [], False, None
        if facts.kind is ServerKind.LLAMA_SERVER:
            try:
                self.token_prompts = LlamaServerPrompts.load(self._client, family)
                self.infill = not self.token_prompts.has_fim and llama_server_infills(self._client)
            except RemoteError as exc:
                if exc.kind in (ErrorKind.OFFLINE, ErrorKind.AUTH):
                    raise EngineError(exc.kind, exc.message) from None
                log.info("token-id prompts unavailable on %s (%s); sending text prompts", self.base_url, exc.message)
        elif facts.kind is ServerKind.VLLM and family in FIM_FAMILIES:
            self.stop_token_ids = vllm_stop_token_ids(self._client, self.model_id, stop_strings(family))
        self._extras_for = key

    def round_trip_ms(self) -> float:
        """Time for one small request (``GET /v1/models``), in ms."""
        started = time.perf_counter()
        try:
            self._client.get_json("/v1/models")
        except RemoteError as exc:
            raise EngineError(exc.kind, exc.message) from None
        return (time.perf_counter() - started) * 1000

    def unload(self) -> None:
        """Nothing is held for a remote model."""

    def close(self, timeout: float = 1.0) -> None:
        """Stop any stream and close the connections."""
        self.cancel(None)
        self._client.close()
        self.facts = None
        self._extras_for = None

    # ---- requests ---------------------------------------------------------------------

    def tokenize(self, text: str, special: bool = False) -> tuple[list[int], list[str]]:
        """Remote models are not tokenized here."""
        raise EngineError(ErrorKind.BAD_REQUEST, "a remote engine does not tokenize in Fimble")

    def build_prompt(self, request: FimRequest | ChatRequest) -> tuple[list[int], list[str]]:
        """The request body's prompt: token ids (llama-server FIM) or its text as one piece."""
        body = self.body(request)
        prompt = body.get("prompt", body.get("messages", ""))
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return list(prompt), []
        return [], [str(prompt)]

    def body(self, request: FimRequest | ChatRequest) -> dict[str, Any]:
        """The exact JSON body sent for ``request``.

        Raises:
            EngineError: wrong_role for a FIM request to a model of no known FIM family.
        """
        try:
            return self._body(request)
        except PromptError as exc:
            raise EngineError(ErrorKind.WRONG_ROLE, str(exc)) from None
        except RemoteError as exc:
            raise EngineError(exc.kind, exc.message) from None

    def _body(self, request: FimRequest | ChatRequest) -> dict[str, Any]:
        family = self.family or "generic"
        sampling = request.sampling
        body: dict[str, Any] = {"model": self.model_id, "stream": True, **_sampling_fields(sampling)}
        if isinstance(request, FimRequest):
            body.update(self._fim_fields(family, request))
        else:
            messages, _ = neutralize_messages(request.messages, family)
            body["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        return body

    def _fim_fields(self, family: str, request: FimRequest) -> dict[str, Any]:
        """``prompt`` (token ids on llama-server, else text), ``stop``, and the server's own extras."""
        facts = self.facts
        if self.infill and self.token_prompts is not None:
            fields: dict[str, Any] = infill_fields(self.token_prompts.vocab, request)
        elif self.token_prompts is not None:
            fields = {"prompt": self.token_prompts.fim_ids(request)}
        else:
            prefix, suffix = fit_window(
                request.prefix,
                request.suffix,
                request.prefix_tokens * CHARS_PER_TOKEN,
                request.suffix_tokens * CHARS_PER_TOKEN,
                snap_lines=SNAP_LINES,
            )
            spelling = facts is not None and facts.kind.llama_cpp_tokenizer
            fields = {
                "prompt": fim_text(
                    family, prefix, suffix, request.chunks, request.order, path=request.path, vocab_spelling=spelling
                )
            }
        fields["stop"] = list(stop_strings(family, facts.max_stop_sequences if facts is not None else None))
        if self.stop_token_ids:
            fields["stop_token_ids"] = list(self.stop_token_ids)
        if facts is not None and facts.kind is ServerKind.LLAMA_SERVER:
            fields["cache_prompt"] = True
            indent = cursor_indent(request.prefix, request.suffix)
            if indent:
                fields["n_indent"] = indent
            if request.sampling.time_limit_s:
                fields["t_max_predict_ms"] = int(request.sampling.time_limit_s * 1000)
        return fields

    def generate(self, job_id: int, request: FimRequest | ChatRequest) -> Iterator[str | GenerationStats]:
        """Stream the answer; the last item is its ``GenerationStats``."""
        if self.facts is None:
            raise EngineError(ErrorKind.NO_MODEL, "the remote engine is not connected")
        with self._lock:
            self._job = job_id
            self._cancel.clear()
        return self._stream(request)

    def _stream(self, request: FimRequest | ChatRequest) -> Iterator[str | GenerationStats]:
        started = time.perf_counter()
        if isinstance(request, FimRequest) and request.prompt_only:
            yield from self._warm(request, started)
            return
        body = self.body(request)
        limit = request.sampling.time_limit_s or DEFAULT_TIME_LIMIT_S
        single_line = isinstance(request, FimRequest) and request.single_line
        family = self.family or "generic"
        stream = self._client.stream_chat
        if "input_prefix" in body:
            stream = self._client.stream_infill
        elif "prompt" in body:
            stream = self._client.stream_completion
        text, shown, count, first_at = "", 0, 0, None
        try:
            for piece in stream(body, self._cancel, limit):
                first_at = first_at or time.perf_counter()
                count += 1
                text += piece
                visible = trim_leaked(text, family, final=False)
                if single_line and "\n" in visible:
                    visible = visible.split("\n", 1)[0]
                    self._cancel.set()  # the line is complete: close the stream
                if len(visible) > shown:
                    yield visible[shown:]
                    shown = len(visible)
        except RemoteError as exc:
            raise EngineError(exc.kind, exc.message) from None
        final = trim_leaked(text, family, final=True)
        if single_line:
            final = final.split("\n", 1)[0]
        if len(final) > shown:
            yield final[shown:]
        reason = _finish(self._client.last_finish, self._cancel.is_set() and not single_line)
        usage = self._client.last_usage or {}
        generated, prompt = usage.get("completion_tokens", count), usage.get("prompt_tokens", 0)
        yield _stats(generated, started, first_at, reason, prompt, self._client.last_timings)

    def _warm(self, request: FimRequest, started: float) -> Iterator[GenerationStats]:
        """A prompt-only request: llama-server evaluates the prompt into its cache; other servers cannot.

        ``max_tokens: 0`` with ``cache_prompt`` makes llama-server evaluate the
        prompt (and sample one token, dropped here), so the next request at the
        same place reuses it, as a local warm-up fills the local KV cache.
        """
        if self.token_prompts is None or self.infill:
            yield _stats(0, started, None, "prompt")
            return
        body = dict(self.body(request), max_tokens=0)
        try:
            for _piece in self._client.stream_completion(body, self._cancel, DEFAULT_TIME_LIMIT_S):
                pass
        except RemoteError as exc:
            raise EngineError(exc.kind, exc.message) from None
        usage = self._client.last_usage or {}
        reason = "cancelled" if self._cancel.is_set() else "prompt"
        yield _stats(0, started, None, reason, usage.get("prompt_tokens", 0), self._client.last_timings)

    def cancel(self, job_id: int | None = None) -> None:
        """Close the running stream if it is ``job_id`` (None: whatever runs)."""
        with self._lock:
            if job_id is None or job_id == self._job:
                self._cancel.set()


def _sampling_fields(sampling: Sampling) -> dict[str, Any]:
    fields: dict[str, Any] = {"max_tokens": sampling.max_tokens, "temperature": sampling.temperature}
    if sampling.temperature > 0:
        fields["top_p"] = sampling.top_p
    if sampling.seed is not None:
        fields["seed"] = sampling.seed
    return fields


def _finish(server_reason: str | None, cancelled: bool) -> str:
    if cancelled:
        return "cancelled"
    if server_reason == "time_limit":
        return "time"
    return "length" if server_reason == "length" else "stop"


def _stats(
    generated: int,
    started: float,
    first_at: float | None,
    reason: str,
    prompt_tokens: int = 0,
    timings: dict[str, float] | None = None,
) -> GenerationStats:
    """The stats of one request; ``timings`` (llama-server's) give the prompt evaluation, which
    the completion service's speed estimate sizes windows by, as it does from a local engine."""
    ended = time.perf_counter()
    evaluated, reused, eval_ms = 0, 0, 0.0
    if timings and "prompt_n" in timings and "prompt_ms" in timings:
        reused = int(timings.get("cache_n", 0))
        evaluated, eval_ms = int(timings["prompt_n"]) + reused, timings["prompt_ms"]
    first = first_at or ended
    decode_s = ended - first
    return GenerationStats(
        prompt_tokens=prompt_tokens,
        generated_tokens=generated,
        prompt_ms=(first - started) * 1000,
        ttft_ms=(first - started) * 1000,
        total_ms=(ended - started) * 1000,
        tokens_per_s=(generated - 1) / decode_s if generated > 1 and decode_s > 0 else 0.0,
        finish_reason=reason,
        reused_tokens=reused,
        evaluated_tokens=evaluated,
        prompt_eval_ms=eval_ms,
    )
