"""The completion window sized to the machine, through the real CompletionService and engine host."""

from __future__ import annotations

import pytest

from app.core.models.load_params import LoadParams
from app.services.completion_service import CompletionService, EditorSnapshot
from app.services.engine_worker import EngineController

# A file long enough that the full window is much more than the smallest one.
LINES = [f"value_{i} = compute({i}, {i * 7 % 13})" for i in range(600)]
CURSOR = 400
PREFIX = "\n".join(LINES[:CURSOR]) + "\nvalue_x = "
SUFFIX = "\n" + "\n".join(LINES[CURSOR:]) + "\n"
# Special tokens and the file name around prefix and suffix, beyond the window's budget.
LAYOUT_TOKENS = 16
FLOOR = 64  # the smallest window, however slow the machine


@pytest.fixture
def service(qtbot, tiny_models):
    controller = EngineController("completion")
    svc = CompletionService(controller)
    tuning = svc.tuning
    tuning.prefix_tokens, tuning.suffix_tokens = 768, 256  # a full window that fits the test's context
    tuning.use_cache = False
    tuning.reuse_kv = False  # every request is a cold evaluation
    tuning.window_grow_after_s = 3600.0  # no background growth unless a test asks for it
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048))
    qtbot.waitUntil(lambda: svc.model_id != "", timeout=20_000)
    yield svc
    svc.growth.stop()
    assert controller.shutdown(10_000)


@pytest.fixture
def fresh(qtbot):
    """A CompletionService with its default tuning and its controller; the test loads the model."""
    controller = EngineController("completion")
    svc = CompletionService(controller)
    yield controller, svc
    svc.growth.stop()
    assert controller.shutdown(10_000)


def _ask(qtbot, service, prefix=PREFIX, suffix=SUFFIX):
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        service.request(EditorSnapshot("big.py", prefix, suffix, "python"))
    stats = answer.args[2]
    assert stats is not None
    return stats


def test_the_speed_is_measured_when_the_model_loads_and_the_window_follows_it(qtbot, service):
    # A short prompt-only probe went out with the load: the first jump already gets a sized window.
    qtbot.waitUntil(lambda: service.speed.samples == 1, timeout=20_000)
    assert service.speed.tokens_per_s > 0
    policy = service.window_policy()
    assert service.window_tokens() == policy.cold_window(service.speed.tokens_per_s)
    assert "prompt tokens/s measured" in service.window_text()
    stats = _ask(qtbot, service)  # requests go on measuring
    assert stats.prompt_eval_ms > 0
    assert stats.evaluated_tokens - stats.reused_tokens >= 64
    assert service.speed.samples == 2


def test_a_request_cancels_the_probe_and_is_answered(qtbot, tiny_models, fresh):
    controller, svc = fresh
    svc.tuning.use_cache = False
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048))
    assert svc._probe_job is not None  # sent with the load (the service's slot ran first)
    stats = _ask(qtbot, svc)  # at once: it cancels the probe if it still runs
    assert stats.finish_reason != "cancelled" and svc._probe_job is None
    svc.tuning.adaptive_window = False  # a fixed window needs no probe
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048))
    qtbot.waitUntil(lambda: svc.speed.samples == 0, timeout=20_000)
    assert svc._probe_job is None


def test_a_tiny_target_gives_a_shorter_prompt_than_the_full_window(qtbot, service):
    service.tuning.window_target_s = 1e-6  # nothing fits: the floor
    _ask(qtbot, service)  # measure the speed first
    assert service.window_tokens() == FLOOR
    small = _ask(qtbot, service)
    service.tuning.adaptive_window = False  # today's fixed full window
    assert service.window_tokens() == 1024
    full = _ask(qtbot, service)
    assert small.prompt_tokens <= FLOOR + LAYOUT_TOKENS
    assert full.prompt_tokens > 768
    assert small.evaluated_tokens < full.evaluated_tokens


def test_a_pinned_window_is_used_as_is(qtbot, service):
    service.tuning.window_target_s = 1e-6
    service.pinned_window = 512
    assert service.window_tokens() == 512
    assert service.window_budgets(512) == (384, 128)
    pinned = _ask(qtbot, service)
    service.pinned_window = None
    cold = _ask(qtbot, service)
    assert cold.prompt_tokens < pinned.prompt_tokens <= 512 + LAYOUT_TOKENS
    assert service.window_tokens() == FLOOR  # the speed measured meanwhile does not override the target
    assert "pinned" not in service.window_text()


def test_the_window_grows_while_idle_and_the_next_request_reuses_it(qtbot, service):
    tuning = service.tuning
    tuning.window_target_s = 1e-6
    tuning.reuse_kv = True
    elsewhere_prefix = "\n".join(LINES[:100]) + "\nvalue_y = "
    elsewhere_suffix = "\n" + "\n".join(LINES[100:]) + "\n"
    _ask(qtbot, service, elsewhere_prefix, elsewhere_suffix)  # measures the speed
    first = _ask(qtbot, service)
    assert first.prompt_tokens <= FLOOR + LAYOUT_TOKENS
    tuning.window_grow_after_s = tuning.window_grow_every_s = 0.05
    service.growth.user_active()  # the user stops typing now
    qtbot.waitUntil(lambda: service.growth.warm_tokens == 1024, timeout=30_000)
    assert service.growth.grown_jobs >= 1  # evaluated in the background, one step or more
    assert "1024 tokens" in service.window_text()
    tuning.window_grow_after_s = 3600.0
    typed = _ask(qtbot, service, PREFIX + "c")  # one more character at the same place
    assert typed.prompt_tokens > 768
    assert typed.reused_tokens >= typed.prompt_tokens - 32  # the grown window was already in the KV cache
    elsewhere = _ask(qtbot, service, elsewhere_prefix, elsewhere_suffix)
    assert elsewhere.prompt_tokens <= FLOOR + LAYOUT_TOKENS  # a jump starts cold again
    assert service.growth.warm_tokens == 0


def test_a_jump_up_into_the_cached_window_keeps_its_width_for_the_cost_of_the_cold_window(qtbot, service):
    service.tuning.reuse_kv = True
    service.tuning.order = "psm"  # the prefix first: a cached prefix is reused up to the cursor
    service.tuning.window_target_s = 1e-6
    _ask(qtbot, service)  # measure the speed: the cold window is the floor now
    assert service.window_tokens() == FLOOR
    service.tuning.adaptive_window = False
    full = _ask(qtbot, service)  # the full window at line 400 is in the KV cache
    service.tuning.adaptive_window = True
    up = 10
    prefix = "\n".join(LINES[: CURSOR - up]) + "\nvalue_x = "
    suffix = "\n" + "\n".join(LINES[CURSOR - up :]) + "\n"
    jump = _ask(qtbot, service, prefix, suffix)
    assert jump.prompt_tokens > full.prompt_tokens // 2 > FLOOR + LAYOUT_TOKENS  # wider than the cold window
    assert jump.prompt_tokens - jump.reused_tokens <= FLOOR + LAYOUT_TOKENS  # for what the cold one would cost


def test_a_model_without_fim_tokens_spends_the_whole_window_on_the_prefix(qtbot, tiny_models, fresh):
    controller, svc = fresh
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["generic"]), LoadParams(n_ctx=2048))
    qtbot.waitUntil(lambda: svc.prefix_only, timeout=20_000)
    assert svc.window_budgets(256) == (256, 0)  # it sees no suffix
    full_prefix = svc.tuning.prefix_tokens
    assert svc.window_budgets(4096) == (full_prefix, 0)  # never more prefix than the full window has
    svc.tuning.adaptive_window = False
    assert svc.window_budgets(256) == (full_prefix, svc.tuning.suffix_tokens)


def test_a_warm_up_right_after_the_load_waits_for_the_probe(qtbot, tiny_models, fresh):
    controller, svc = fresh
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048))
    # The service's slot ran first (it connected first); no event ran since, so the
    # probe's end cannot have been delivered yet.
    assert svc.model_id != "" and svc._probe_job is not None
    with qtbot.waitSignal(svc.warmed, timeout=20_000) as warmed:
        assert svc.warm(EditorSnapshot("big.py", PREFIX, SUFFIX, "python")) is None  # it waits
    assert svc.speed.samples >= 1  # the probe was not cancelled
    # Sized by the probe's figure (thousands of tokens/s for the tiny model), not the floor.
    assert warmed.args[1].prompt_tokens > FLOOR + LAYOUT_TOKENS
