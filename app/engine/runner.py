"""One loaded ``llama_cpp.Llama`` and everything done with it, inside the host."""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.chat.budget import BudgetResult, fit_conversation
from app.core.fim.anchored import Built, anchor_of, widest_prompt
from app.core.fim.budget import fit_request
from app.core.fim.warm_places import WarmPlaces, common_prefix
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats
from app.core.generation.families import PromptError
from app.core.generation.families.base import with_bos
from app.core.generation.repetition import RepetitionGuard
from app.core.generation.stop_text import StopText
from app.core.generation.vocab import text_tokens
from app.core.models.gguf_file import GGUFError
from app.core.models.info import InspectedModel, inspect_model
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.engine import cpu_share
from app.engine.cache_prefix import reset_cache, reusable_prefix
from app.engine.hold import HoldGate
from app.engine.llama_vocab import LlamaVocab
from app.engine.loading import gpu_layers, load_failure_text, load_progress, warm_places_budget

if TYPE_CHECKING:
    from llama_cpp import Llama


class EngineFailure(Exception):
    """A failure to report to the parent as ``Failed(kind, message)``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


CTX_PAD = 256
# Prompt tokens evaluated at once for a completion on the CPU (see _eval_in_chunks).
FIM_CHUNK_TOKENS = 32
# Generated tokens between two looks at the free cores (see cpu_share).
REFIT_EVERY_TOKENS = 16
_CACHE_TYPE_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30}


class ModelRunner:
    """Owns the host's ``Llama``; all calls come from the host's main thread."""

    def __init__(self, cancel: threading.Event) -> None:
        self._cancel = cancel
        self._deadline: float | None = None
        self.hold = HoldGate(cancel)  # the pipe reader holds and releases jobs through it
        self.llama: Llama | None = None
        self.model: InspectedModel | None = None
        self.vocab: LlamaVocab | None = None
        self._abort_cb: object | None = None  # kept alive while llama.cpp holds it
        self._vocab_only = False
        self._places: WarmPlaces[bytes] = WarmPlaces(0)  # saved completion prompts, see kv_places
        self._live_anchor = ""  # where the live FIM prompt's prefix starts (see core/fim/anchored)
        self._prompt_anchor = ""  # the anchor of the prompt built last
        self._on_gpu = False  # layers offloaded to a GPU
        self._threads = cpu_share.ThreadFit(1, 1)  # llama.cpp's threads, cut to the free cores

    # ---- loading -------------------------------------------------------------

    def load(self, path: str, params: LoadParams, vocab_only: bool, progress: Callable[[float], None]) -> LoadedModel:
        """Validate then load a model; return what was loaded, for the parent.

        Raises:
            EngineFailure: bad_model, load_failed or load_cancelled.
        """
        try:
            model = inspect_model(path)
        except GGUFError as exc:
            raise EngineFailure("bad_model", str(exc)) from None
        self.unload()
        self._cancel.clear()

        def on_progress(fraction: float) -> bool:
            progress(fraction)
            return not self._cancel.is_set()

        import llama_cpp

        # llama.cpp pads the context to a multiple of 256 but llama-cpp-python
        # sizes its token array from the number asked for: ask for the padded one.
        n_ctx = -(-params.n_ctx // CTX_PAD) * CTX_PAD if params.n_ctx else 0
        n_gpu_layers = gpu_layers(model, params, n_ctx)
        started = time.perf_counter()
        try:
            with load_progress(on_progress):
                llama = llama_cpp.Llama(
                    model_path=path,
                    n_ctx=n_ctx,
                    n_gpu_layers=n_gpu_layers,
                    n_threads=params.n_threads,
                    n_batch=params.n_batch,
                    n_ubatch=min(params.n_batch, 512),
                    rope_freq_base=params.rope_freq_base,
                    rope_freq_scale=params.rope_freq_scale,
                    offload_kqv=params.offload_kqv,
                    use_mlock=params.use_mlock,
                    use_mmap=params.use_mmap,
                    flash_attn=params.flash_attn,
                    type_k=_CACHE_TYPE_IDS[params.type_k],
                    type_v=_CACHE_TYPE_IDS[params.type_v],
                    vocab_only=vocab_only,
                    verbose=False,
                    seed=params.seed if params.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED,
                )
        except (ValueError, RuntimeError) as exc:
            if self._cancel.is_set():
                raise EngineFailure("load_cancelled", "loading was cancelled") from None
            raise EngineFailure("load_failed", load_failure_text(model, params, exc)) from None
        self.llama, self.model = llama, model
        self._on_gpu = n_gpu_layers != 0 and bool(llama_cpp.llama_supports_gpu_offload())
        self.vocab = LlamaVocab(llama, model.vocab)
        self._vocab_only = vocab_only
        self._threads = cpu_share.ThreadFit(llama.context_params.n_threads, llama.context_params.n_threads_batch)
        per_token = model.kv_cache_bytes(1, params.type_k)
        self._places = WarmPlaces(0 if vocab_only else warm_places_budget(params, per_token))
        if not vocab_only:
            cpu_share.shared()  # start sampling now: the first request then finds an estimate
            self._install_abort_callback(llama)
        return LoadedModel(
            info=model.info,
            n_ctx=llama.n_ctx(),
            load_ms=(time.perf_counter() - started) * 1000,
            params=params,
            vocab_only=vocab_only,
            warm_places_bytes=self._places.budget_bytes,
            kv_bytes_per_token=per_token,
        )

    def _install_abort_callback(self, llama: Llama) -> None:
        import llama_cpp

        def should_abort(_data: object) -> bool:
            if self._cancel.is_set():
                return True
            return self._deadline is not None and time.perf_counter() > self._deadline

        callback = llama_cpp.ggml_abort_callback(should_abort)
        self._abort_cb = callback
        llama_cpp.llama_set_abort_callback(llama._ctx.ctx, callback, None)

    def unload(self) -> None:
        """Free the model and its context."""
        if self.llama is not None:
            self.llama.close()
        self.llama, self.model, self.vocab = None, None, None
        self._abort_cb = None
        self._live_anchor = ""

    # ---- prompts ---------------------------------------------------------------

    def _require_model(self) -> tuple[Llama, InspectedModel, LlamaVocab]:
        if self.llama is None or self.model is None or self.vocab is None:
            raise EngineFailure("no_model", "no model is loaded")
        return self.llama, self.model, self.vocab

    def build_prompt(self, request: FimRequest | ChatRequest) -> list[int]:
        """Return the prompt token ids for a request.

        Raises:
            EngineFailure: wrong_role when the model cannot serve the request.
        """
        return self._prompt(request)[0]

    def _prompt(self, request: FimRequest | ChatRequest) -> tuple[list[int], BudgetResult | None]:
        """The prompt, and for chat how the conversation was fitted to the context."""
        _, model, vocab = self._require_model()
        try:
            if isinstance(request, FimRequest):
                warm = self._warm_prompts() if request.sampling.reuse_kv else []
                tokens, self._prompt_anchor = widest_prompt(self._fim_prompt, request, warm)
                return tokens, None
            self._prompt_anchor = ""
            return self._chat_prompt(request)
        except PromptError as exc:
            raise EngineFailure("wrong_role", str(exc)) from None

    def _fim_prompt(self, request: FimRequest) -> Built:
        """The FIM prompt for ``request`` fitted to its budgets, and its anchor."""
        _, model, vocab = self._require_model()
        request = fit_request(vocab, request)
        if request.allow_prefix_only and model.info.fim is None:
            return with_bos(vocab, text_tokens(vocab, request.prefix)), anchor_of(request.prefix)
        return model.family.build_fim(vocab, request), anchor_of(request.prefix)

    def _warm_prompts(self) -> list[tuple[str, list[int]]]:
        """(anchor, tokens) of the live prompt and of each saved place, the live one first."""
        warm = [(place.anchor, place.tokens) for place in reversed(self._places.places)]
        if self.llama is not None and self._live_anchor:
            warm.insert(0, (self._live_anchor, [int(t) for t in self.llama.input_ids[: self.llama.n_tokens]]))
        return warm

    def _context_size(self) -> int:
        """Tokens the context holds (and llama-cpp-python's token array agrees)."""
        llama, _, _ = self._require_model()
        return min(llama.n_ctx(), len(llama.input_ids))

    def _chat_tokens(self, messages: Iterable[ChatMessage]) -> list[int]:
        _, model, vocab = self._require_model()
        return model.family.build_chat(vocab, tuple(messages), model.chat_template)

    def _chat_prompt(self, request: ChatRequest) -> tuple[list[int], BudgetResult | None]:
        """Build a chat prompt that leaves room for the answer in the context."""
        _, model, _ = self._require_model()
        if not model.info.can_chat:
            raise PromptError(
                f"{model.name} is not a chat model (no chat template or turn tokens);"
                " assign an instruction-tuned model to chat"
            )
        if self._vocab_only:
            return self._chat_tokens(request.messages), None
        n_ctx = self._context_size()
        fitted = fit_conversation(
            request.messages,
            lambda messages: len(self._chat_tokens(messages)),
            n_ctx,
            reserve=min(request.sampling.max_tokens, n_ctx // 2),
            policy=request.overflow,
        )
        if not fitted.fits:
            raise EngineFailure("context_overflow", fitted.notice or "the conversation does not fit the context")
        return self._chat_tokens(fitted.messages), fitted

    def tokenize(self, text: str, special: bool) -> list[int]:
        """Tokenize text without BOS."""
        _, _, vocab = self._require_model()
        return vocab.tokenize(text, special=special)

    def pieces(self, tokens: list[int]) -> list[str]:
        """Return each token's text, control tokens spelled out."""
        llama, _, _ = self._require_model()
        return [llama.detokenize([t], special=True).decode("utf-8", errors="replace") for t in tokens]

    # ---- generation ------------------------------------------------------------

    def generate(self, request: FimRequest | ChatRequest, emit: Callable[[str], None]) -> tuple[str, GenerationStats]:
        """Stream an answer through ``emit``; return the full text and stats.

        Raises:
            EngineFailure: no_model, wrong_role or context_overflow.
        """
        started = time.perf_counter()
        tokens, fitted = self._prompt(request)
        llama, model, vocab = self._require_model()
        n_ctx = self._context_size()
        if len(tokens) >= n_ctx:
            raise EngineFailure(
                "context_overflow",
                f"the prompt is {len(tokens)} tokens but the context holds {n_ctx};"
                " shorten it or raise the context length",
            )
        threads = self._fit_threads(llama)
        sampling = request.sampling
        budget = min(sampling.max_tokens, n_ctx - len(tokens))
        stop_ids: frozenset[int] = frozenset() if sampling.ignore_eos else model.family.stop_ids(vocab)
        chat = isinstance(request, ChatRequest) and not sampling.ignore_eos
        guard = RepetitionGuard() if chat else None
        in_line = isinstance(request, FimRequest) and request.single_line  # stops at the newline
        stops = StopText(("\n",)) if in_line else model.family.chat_stops(model.chat_template) if chat else StopText()
        if not sampling.reuse_kv:
            reset_cache(llama)  # forget the previous prompt: every token is evaluated
        restored = self._switch_place(llama, tokens) if isinstance(request, FimRequest) and sampling.reuse_kv else 0
        self._live_anchor = self._prompt_anchor  # the cache now belongs to this prompt
        reused = reusable_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        if isinstance(request, FimRequest) and request.prompt_only:
            stats = self._evaluate_prompt(llama, tokens, reused, started, n_ctx, restored)
            return "", replace(stats, threads=threads)
        if sampling.seed is not None:
            llama.set_seed(sampling.seed)
        self._deadline = None  # the time limit runs from the first token: see below
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parts: list[str] = []
        count, reason = 0, "length"
        held, paused_s = 0.0, 0.0  # seconds held since the last token, and before it
        first_at: float | None = None
        last_at: float | None = None
        eval_started = time.perf_counter()
        try:
            if isinstance(request, FimRequest) and sampling.reuse_kv:
                self._eval_in_chunks(llama, tokens, reused, len(tokens) - 1)  # a cancel keeps the finished chunks
            stream = llama.generate(
                tokens,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
                temp=sampling.temperature,
                repeat_penalty=sampling.repeat_penalty,
            )
            for token in stream:
                last_at = time.perf_counter()
                paused_s += held
                if first_at is None:
                    first_at = last_at
                    if sampling.time_limit_s:
                        self._deadline = first_at + sampling.time_limit_s
                if token in stop_ids:
                    reason = "stop"
                    break
                count += 1
                if count % REFIT_EVERY_TOKENS == 0:
                    self._fit_threads(llama)
                text = decoder.decode(llama.detokenize([token], special=False))
                if guard is not None and guard.feed(token, text):
                    reason = "repetition"
                    break
                text, stopped = stops.feed(text)  # a stop string is cut off, never shown
                reason = "stop" if stopped else reason
                if text:
                    parts.append(text)
                    emit(text)
                if reason == "stop":
                    break
                held = self.hold.pause()  # the held time does not count toward the time limit
                if held and self._deadline is not None:
                    self._deadline += held
                if self._cancel.is_set():
                    reason = "cancelled"
                    break
                if count >= budget:
                    reason = "length"
                    break
                if self._deadline is not None and last_at > self._deadline:
                    reason = "time"
                    break
        except RuntimeError as exc:
            # llama-cpp-python counts only completed batches in n_tokens, and the
            # next evaluation drops KV entries past it: the finished part of an
            # interrupted prompt stays reusable.
            if self._cancel.is_set():
                reason = "cancelled"  # the abort callback stopped llama_decode
            elif self._deadline is not None and time.perf_counter() > self._deadline:
                reason = "time"
            else:
                raise EngineFailure("internal", f"llama.cpp failed while generating ({exc})") from None
        finally:
            self._deadline = None
        tail = stops.finish(decoder.decode(b"", final=True))
        if tail:
            parts.append(tail)
            emit(tail)
        ended = time.perf_counter()
        first_at = first_at or ended
        prompt_ms = (first_at - started) * 1000
        decode_s = (last_at or ended) - first_at - paused_s
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            reused_tokens=reused,
            generated_tokens=count,
            prompt_ms=prompt_ms,
            ttft_ms=prompt_ms,
            total_ms=(ended - started) * 1000,
            tokens_per_s=(count - 1) / decode_s if count > 1 and decode_s > 0 else 0.0,
            finish_reason=reason,
            n_ctx=n_ctx,
            dropped_turns=fitted.dropped if fitted else 0,
            notice=fitted.notice if fitted and (fitted.dropped or fitted.trimmed) else None,
            evaluated_tokens=min(llama.n_tokens, len(tokens)),
            restored_tokens=restored,
            prompt_eval_ms=(first_at - eval_started) * 1000,
            threads=threads,
        )
        return "".join(parts), stats

    def _fit_threads(self, llama: Llama) -> int:
        """Cut llama.cpp's threads to the cores other programs leave free; return the prompt threads."""
        return self._threads.fit(llama.ctx)

    def _switch_place(self, llama: Llama, tokens: list[int]) -> int:
        """Keep the live prompt's cache if ``tokens`` would lose it; bring back a saved one that fits better.

        Returns:
            How many of ``tokens`` a restored place already holds (0: none was restored).
        """
        from app.engine.kv_places import restore_place, save_place

        live = [int(t) for t in llama.input_ids[: llama.n_tokens]]
        found = self._places.take_best(tokens, common_prefix(live, tokens))
        if self._places.worth_saving(live, tokens):
            saved = save_place(llama)
            if saved is not None:
                saved.anchor = self._live_anchor
                self._places.remember(saved)
        if found is None:
            return 0
        place, shared = found
        if not restore_place(llama, place):
            return 0
        self._live_anchor = place.anchor
        return min(shared, len(tokens))

    def _eval_in_chunks(self, llama: Llama, tokens: list[int], start: int, end: int) -> None:
        """Evaluate ``tokens[start:end]`` after the first ``start`` cached ones, a chunk at a time.

        A cancel (the abort callback) loses only the chunk being evaluated: on a
        CPU, chunks of 32 tokens cost little more per token than llama.cpp's usual 512.
        On a GPU the whole batch size is kept.
        """
        if end <= start:
            return
        llama.n_tokens = start  # ``eval`` drops the KV entries past it
        chunk = max(FIM_CHUNK_TOKENS, llama.n_batch) if self._on_gpu else FIM_CHUNK_TOKENS
        for at in range(start, end, chunk):
            self.hold.pause()  # a held job waits between chunks too
            self._fit_threads(llama)  # the machine's load may change during a long prompt
            llama.eval(tokens[at : min(at + chunk, end)])

    def _evaluate_prompt(
        self, llama: Llama, tokens: list[int], reused: int, started: float, n_ctx: int, restored: int
    ) -> GenerationStats:
        """Evaluate ``tokens`` past the ``reused`` prefix into the KV cache; sample nothing.

        A cancel stops it between batches (the abort callback); the finished
        batches stay counted in ``n_tokens`` and are reused by the next prompt.
        """
        reason = "prompt"
        llama._requires_eval = True  # the logits no longer belong to the last cached token
        eval_started = time.perf_counter()
        try:
            self._eval_in_chunks(llama, tokens, reused, len(tokens))
        except RuntimeError as exc:
            if not self._cancel.is_set():
                raise EngineFailure("internal", f"llama.cpp failed while evaluating a prompt ({exc})") from None
            reason = "cancelled"
        total_ms = (time.perf_counter() - started) * 1000
        return GenerationStats(
            prompt_tokens=len(tokens),
            reused_tokens=reused,
            generated_tokens=0,
            prompt_ms=total_ms,
            ttft_ms=0.0,
            total_ms=total_ms,
            tokens_per_s=0.0,
            finish_reason=reason,
            n_ctx=n_ctx,
            evaluated_tokens=min(llama.n_tokens, len(tokens)),
            restored_tokens=restored,
            prompt_eval_ms=(time.perf_counter() - eval_started) * 1000,
        )
