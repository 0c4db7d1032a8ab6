"""The engine host process, driven over its pipe, with real llama.cpp."""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.engine.client import EngineCrashed, EngineError
from tests.support.cancel_landing import EARLY, INSIDE, LATE, land_inside
from tests.support.engine_runs import collect

DEADLINE_S = 10.0  # generous: the assertions are about events, not this machine's speed
LONG = Sampling(max_tokens=100_000, temperature=0.8, ignore_eos=True)


def test_ready_reports_the_backend(host):
    backend = host.backend
    assert isinstance(backend, BackendInfo)
    assert backend.backend in ("CPU", "CUDA", "Metal", "Vulkan", "ROCm", "HIP", "SYCL")
    assert isinstance(backend.gpu_offload, bool)
    assert backend.llama_cpp_python
    assert any(d.name for d in backend.devices)


def test_load_reports_progress_and_info(host, tiny_models):
    progress = []
    loaded = host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024), on_progress=progress.append)
    assert progress and progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert isinstance(loaded, LoadedModel)
    assert loaded.info.family == "codegemma" and loaded.n_ctx == 1024
    assert loaded.params == LoadParams(n_ctx=1024) and not loaded.vocab_only and loaded.load_ms > 0
    assert loaded.info.path == str(tiny_models["codegemma"]) and loaded.info.can_complete


def test_generate_streams_pieces_and_measured_stats(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    request = FimRequest("def add(a, b):\n", "\n", sampling=Sampling(max_tokens=16, temperature=0.0))
    pieces, stats = collect(host.generate(7, request))
    assert stats.prompt_tokens > 5
    assert stats.finish_reason in ("length", "stop")
    assert stats.generated_tokens <= 16
    if stats.finish_reason == "length":
        assert stats.generated_tokens == 16
    assert stats.ttft_ms > 0 and stats.total_ms >= stats.ttft_ms
    if stats.generated_tokens > 1:
        assert stats.tokens_per_s > 0
    # Greedy decoding is deterministic: the same request gives the same text.
    again, _ = collect(host.generate(8, request))
    assert "".join(again) == "".join(pieces)


def test_kv_cache_is_reused_for_a_shared_prefix(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    base = "import os\n" * 20
    sampling = Sampling(max_tokens=2, temperature=0.0)
    _, first = collect(host.generate(1, FimRequest(base, "", sampling=sampling)))
    _, second = collect(host.generate(2, FimRequest(base + "x = 1\n", "", sampling=sampling)))
    assert first.reused_tokens == 0
    assert second.reused_tokens >= first.prompt_tokens - 3  # all but the FIM tail
    assert second.prompt_tokens > second.reused_tokens


def test_a_prompt_only_request_fills_the_kv_cache_and_samples_nothing(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    prefix, suffix = "import os\n" * 30, "\nprint(1)\n"
    warm = FimRequest(prefix, suffix, prompt_only=True)
    pieces, stats = collect(host.generate(1, warm))
    assert pieces == [] and stats.generated_tokens == 0 and stats.finish_reason == "prompt"
    assert stats.reused_tokens == 0 and stats.evaluated_tokens == stats.prompt_tokens > 30
    # The same window again, as a real request: only the last token is evaluated again.
    _, real = collect(host.generate(2, FimRequest(prefix, suffix, sampling=Sampling(max_tokens=2, temperature=0.0))))
    assert real.prompt_tokens == stats.prompt_tokens and real.reused_tokens == real.prompt_tokens - 1
    # Warming the same place twice evaluates one token.
    _, again = collect(host.generate(3, warm))
    assert again.prompt_tokens - again.reused_tokens == 1 and again.generated_tokens == 0


def test_cancel_stops_between_tokens(host, tiny_models):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    stream = host.generate(3, FimRequest("hello", allow_prefix_only=True, sampling=LONG))
    seen = 0
    for item in stream:
        seen += 1
        if seen == 3:
            cancelled_at = time.perf_counter()
            host.cancel(3)
        if isinstance(item, GenerationStats):
            stats = item
    assert stats.finish_reason == "cancelled"
    assert time.perf_counter() - cancelled_at < DEADLINE_S
    assert stats.generated_tokens < 4000


def test_cancel_before_start_skips_the_job(host, tiny_models):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=512))
    host.cancel(42)
    pieces, stats = collect(host.generate(42, FimRequest("a", allow_prefix_only=True, sampling=LONG)))
    assert pieces == [] and stats.finish_reason == "cancelled"


def test_time_limit(host, tiny_models):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    sampling = Sampling(max_tokens=100_000, temperature=0.8, time_limit_s=0.05, ignore_eos=True)
    _, stats = collect(host.generate(5, FimRequest("a", allow_prefix_only=True, sampling=sampling)))
    assert stats.finish_reason == "time"
    assert stats.generated_tokens < 100_000 and stats.total_ms < DEADLINE_S * 1000


def test_typed_errors_in_plain_words(host, tiny_models, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_models["codegemma"].read_bytes()[:5000])
    with pytest.raises(EngineError) as caught:
        host.load(str(broken), LoadParams())
    assert caught.value.kind == "bad_model" and "truncated" in caught.value.message
    with pytest.raises(EngineError) as caught:
        collect(host.generate(1, FimRequest("x")))
    assert caught.value.kind == "no_model"
    n_ctx = host.load(str(tiny_models["generic"]), LoadParams(n_ctx=64)).n_ctx
    with pytest.raises(EngineError) as caught:
        collect(host.generate(2, FimRequest("x")))
    assert caught.value.kind == "wrong_role"
    huge = (ChatMessage("user", "word " * n_ctx),)
    with pytest.raises(EngineError) as caught:
        collect(host.generate(3, ChatRequest(huge, overflow="stop")))
    assert caught.value.kind == "context_overflow" and f"{n_ctx:,}-token context" in caught.value.message
    # The default policy keeps the end of the message and says what it cut.
    _, stats = collect(host.generate(5, ChatRequest(huge, Sampling(max_tokens=4))))
    assert stats.notice and "cut" in stats.notice and stats.prompt_tokens + 4 <= stats.n_ctx
    for error in ("bad_model", "wrong_role"):
        assert "Traceback" not in error
    # The host survived every error and still serves.
    _, stats = collect(host.generate(4, ChatRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=3))))
    assert stats.generated_tokens >= 1 or stats.finish_reason == "stop"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_host_death_mid_generation_is_noticed_within_a_second(host, tiny_models, sig):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    stream = host.generate(9, FimRequest("hello", allow_prefix_only=True, sampling=LONG))
    next(stream)
    os.kill(host.pid, sig)
    killed_at = time.perf_counter()
    with pytest.raises(EngineCrashed) as caught:
        for _ in stream:
            pass
    assert time.perf_counter() - killed_at < DEADLINE_S
    assert signal.Signals(sig).name in caught.value.message
    assert not host.is_alive()


def test_close_is_quick_and_leaves_no_process(tiny_models, tmp_path):
    from app.engine.host_client import HostEngine

    engine = HostEngine("test", log_path=str(tmp_path / "log"))
    engine.start()
    engine.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    stream = engine.generate(1, FimRequest("a", allow_prefix_only=True, sampling=LONG))
    next(stream)
    pid = engine.pid
    started = time.perf_counter()
    engine.close()
    assert time.perf_counter() - started < DEADLINE_S
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.starter
def test_cancel_during_prompt_evaluation_uses_the_abort_callback(host, starter_model):
    host.load(str(starter_model), LoadParams(n_ctx=2048, n_batch=16))
    prompt = "def function_number_{}(x):\n    return x * {}\n\n"
    body = "".join(prompt.format(i, i) for i in range(14))  # ~260 tokens, 16 per batch

    # The wait before the cancel adapts to the machine and its load (see cancel_landing).
    def attempt(number: int, delay: float) -> tuple[str, tuple[str, GenerationStats]]:
        long_prompt = f"# attempt {number}\n{body}"  # differs early: little is cached
        stream = host.generate(20 + number, ChatRequest((ChatMessage("user", long_prompt),), Sampling(max_tokens=8)))
        time.sleep(delay)
        host.cancel(20 + number)
        _, stats = collect(stream)
        assert stats is not None and stats.finish_reason == "cancelled"
        if stats.generated_tokens > 0 or stats.evaluated_tokens == stats.prompt_tokens:
            return LATE, (long_prompt, stats)  # the prompt was done before the cancel arrived
        if stats.evaluated_tokens <= stats.reused_tokens:
            return EARLY, (long_prompt, stats)  # no batch had finished yet
        return INSIDE, (long_prompt, stats)

    long_prompt, stats = land_inside(attempt, 0.05)
    assert stats.generated_tokens == 0  # stopped inside prompt evaluation
    # The batches evaluated before the cancel are reused by the next request.
    _, again = collect(host.generate(99, ChatRequest((ChatMessage("user", long_prompt),), Sampling(max_tokens=1))))
    assert again.reused_tokens == stats.evaluated_tokens > stats.reused_tokens


@pytest.mark.starter
def test_starter_model_end_to_end(host, starter_model):
    loaded = host.load(str(starter_model), LoadParams(n_ctx=2048))
    assert loaded.info.architecture == "gemma3"
    # Gemma 3 270M is a base model: it continues code well.
    request = FimRequest(
        "def add(a, b):\n    return", allow_prefix_only=True, sampling=Sampling(max_tokens=8, temperature=0.0)
    )
    pieces, stats = collect(host.generate(1, request))
    assert "".join(pieces).startswith(" a + b")
    assert stats.generated_tokens == 8 and stats.tokens_per_s > 0
    # Chat is a plain-text transcript (the base model has no chat template); no turn token is printed.
    chat = ChatRequest((ChatMessage("user", "Say hi."),), Sampling(max_tokens=24, temperature=0.0))
    pieces, stats = collect(host.generate(2, chat))
    assert pieces and "<start_of_turn>" not in "".join(pieces) and "<end_of_turn>" not in "".join(pieces)
    assert stats.reused_tokens == 1 and stats.prompt_tokens > 5  # only BOS is shared


def test_reuse_can_be_turned_off_and_single_line_stops_at_newline(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    base = "import os\n" * 20
    _, first = collect(host.generate(1, FimRequest(base, "", sampling=Sampling(max_tokens=2))))
    off = Sampling(max_tokens=2, reuse_kv=False)
    _, second = collect(host.generate(2, FimRequest(base, "", sampling=off)))
    assert second.reused_tokens == 0 and second.prompt_tokens == first.prompt_tokens
    lines = Sampling(max_tokens=200, temperature=1.0, ignore_eos=True, seed=3)
    pieces, stats = collect(host.generate(3, FimRequest(base, "", single_line=True, sampling=lines)))
    assert "\n" not in "".join(pieces)
    assert stats.finish_reason in ("stop", "length")


def test_a_close_from_another_thread_mid_load_then_a_second_close_raise_nothing(tiny_models, tmp_path):
    """The window closing while the worker waits on a load, then the worker giving that host up."""
    import threading

    from app.engine.host_client import HostEngine

    engine = HostEngine("test", log_path=str(tmp_path / "log"))
    engine.start()
    pid = engine.pid
    outcome: list[BaseException | None] = []

    def load_until_closed() -> None:
        try:
            while True:  # loads again and again until the host goes away under it
                engine.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
        except (EngineCrashed, EngineError) as exc:
            outcome.append(exc)
            engine.close(timeout=0.1)  # as EngineWorker._recover does: must not raise
            outcome.append(None)

    def close() -> None:
        try:
            engine.close()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            outcome.append(exc)

    loader = threading.Thread(target=load_until_closed, daemon=True)
    loader.start()
    time.sleep(0.2)
    closers = [threading.Thread(target=close) for _ in range(3)]  # several at once, as well
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(DEADLINE_S)
    loader.join(DEADLINE_S)
    assert not loader.is_alive()
    assert isinstance(outcome[0], EngineCrashed | EngineError) and outcome[1:] == [None]  # no close raised
    assert engine.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
