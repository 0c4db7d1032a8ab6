"""Warming the KV cache where the cursor settles, through CompletionService and a real engine host."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Slot

from app.core.generation.contracts import GenerationStats
from app.core.models.load_params import LoadParams
from app.services.completion_service import CompletionService, EditorSnapshot
from app.services.engine_worker import EngineController
from tests.support.cancel_landing import EARLY, INSIDE, LATE, land_inside
from tests.support.gui_thread_waits import SignalLog

BODY = "".join(f"def handler_{i}(event):\n    return event.value * {i}\n\n\n" for i in range(24))
TAIL = "\n\nif __name__ == '__main__':\n    main()\n"


class EventOrder(QObject):
    """Records warm-ups and suggestions of one service in the order they reach the GUI thread."""

    def __init__(self, service: CompletionService) -> None:
        super().__init__()
        self.events: list[tuple[str, int, object]] = []
        service.warmed.connect(self._on_warmed)
        service.suggestion.connect(self._on_suggestion)

    @Slot(int, object)
    def _on_warmed(self, job: int, stats: object) -> None:
        self.events.append(("warmed", job, stats))

    @Slot(int, str, object)
    def _on_suggestion(self, job: int, _text: str, stats: object) -> None:
        self.events.append(("suggestion", job, stats))


@pytest.fixture
def service(qtbot, tiny_models):
    # Small batches: a prompt takes many of them, so a cancel lands between batches.
    controller = EngineController("completion")
    svc = CompletionService(controller)
    svc.tuning.use_cache = False  # every request goes to the engine
    # A fixed window: these tests are about warming; the first speed measurement would resize an adaptive one.
    svc.tuning.adaptive_window = False
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096, n_batch=8))
    qtbot.waitUntil(lambda: svc.model_id != "", timeout=20_000)  # the GUI-thread slot has run
    yield svc
    assert controller.shutdown(10_000)


def _snap(prefix: str = BODY + "def main():\n    ", suffix: str = TAIL) -> EditorSnapshot:
    return EditorSnapshot("handlers.py", prefix, suffix, "python")


def test_a_warm_up_evaluates_the_window_and_the_next_request_reuses_it(qtbot, service):
    shown, partial = SignalLog(service.suggestion), SignalLog(service.partial)
    with qtbot.waitSignal(service.warmed, timeout=20_000) as warmed:
        job = service.warm(_snap())
    assert warmed.args[0] == job and service.warm_job is None
    stats = warmed.args[1]
    assert stats.finish_reason == "prompt" and stats.generated_tokens == 0
    assert stats.evaluated_tokens == stats.prompt_tokens > 200
    assert shown.calls == [] and partial.calls == []  # a warm-up never shows ghost text
    assert service.warm(_snap()) is None  # this place is already warm
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        service.request(_snap())
    real = answer.args[2]
    assert real.prompt_tokens == stats.prompt_tokens
    assert real.prompt_tokens - real.reused_tokens == 1  # only the last token is evaluated again
    # Typing one character at the warmed place evaluates a few tokens, not the window.
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as typed:
        service.request(_snap(BODY + "def main():\n    r"))
    assert typed.args[2].prompt_tokens - typed.args[2].reused_tokens <= 4


def test_a_real_request_cancels_a_running_warm_up_and_is_answered(qtbot, service):
    order = EventOrder(service)
    partial = SignalLog(service.partial)

    # The pause before the real request adapts until it lands inside the warm-up's prompt evaluation.
    def attempt(number: int, delay_s: float) -> tuple[str, tuple[GenerationStats, GenerationStats]]:
        head = f"# attempt {number}\n{BODY[: len(BODY) // 2]}def main():\n    "  # differs early: little is cached
        order.events.clear()
        warm = service.warm(_snap(head))
        qtbot.wait(max(1, round(delay_s * 1000)))
        real = service.request(_snap(head + "x"))  # the user starts typing there
        assert service.warm_job is None and service.current_job == real
        qtbot.waitUntil(lambda: len(order.events) == 2, timeout=20_000)
        (first, warm_job, warm_stats), (second, real_job, real_stats) = order.events
        # The warm-up ends first and silently; the real request gets its answer.
        assert (first, warm_job, second, real_job) == ("warmed", warm, "suggestion", real)
        assert warm_stats.generated_tokens == 0 and real_stats.finish_reason != "cancelled"
        assert all(call[0] not in (warm_job,) for call in partial.calls)
        # Whatever the warm-up evaluated is reused: the two windows share it.
        assert real_stats.reused_tokens >= warm_stats.evaluated_tokens - 4
        if warm_stats.finish_reason == "prompt":
            return LATE, (warm_stats, real_stats)  # the whole prompt was evaluated before the request came
        if warm_stats.evaluated_tokens <= warm_stats.reused_tokens:
            return EARLY, (warm_stats, real_stats)  # no batch had finished yet
        return INSIDE, (warm_stats, real_stats)

    warm_stats, real_stats = land_inside(attempt, 0.02)
    assert warm_stats.finish_reason == "cancelled"
    assert warm_stats.reused_tokens < warm_stats.evaluated_tokens < warm_stats.prompt_tokens
    assert real_stats.reused_tokens > warm_stats.reused_tokens  # the cancelled batches were kept


def test_settling_warms_once_and_typing_or_a_request_stops_the_wait(qtbot, service):
    warmed = SignalLog(service.warmed)
    service.settle("python", _snap)
    service.schedule("python", _snap)  # a keystroke: typing is no settled cursor
    with qtbot.waitSignal(service.suggestion, timeout=20_000):
        pass
    qtbot.wait(400)  # longer than the settle wait: nothing may follow
    assert warmed.calls == []
    # The cursor rests at the place the last request evaluated: nothing to warm.
    service.settle("python", _snap)
    qtbot.wait(400)
    assert warmed.calls == [] and service.warm_job is None
    # A new place is warmed once the cursor rests there.
    elsewhere = _snap(BODY[:200], BODY[200:] + TAIL)
    with qtbot.waitSignal(service.warmed, timeout=20_000) as done:
        service.settle("python", lambda: elsewhere)
    assert done.args[1].finish_reason == "prompt"
    # Suggestions turned off for the language: no warm-up either.
    service.set_auto_enabled("python", False)
    service.settle("python", lambda: _snap(BODY[:100], BODY[100:]))
    qtbot.wait(400)
    assert len(warmed.calls) == 1


def test_after_accept_asks_at_once_and_extends_the_cached_prompt(qtbot, service):
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as first:
        service.request(_snap())
    accepted = _snap(BODY + "def main():\n    return handler_3(None)")
    job = service.after_accept("python", accepted)
    assert job is not None and service.current_job == job  # sent now, no debounce to wait out
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        pass
    assert answer.args[0] == job
    stats = answer.args[2]
    assert stats.reused_tokens >= first.args[2].prompt_tokens - 4
    assert stats.prompt_tokens - stats.reused_tokens < 30  # about the accepted text's tokens
    service.set_auto_enabled("python", False)
    assert service.after_accept("python", _snap()) is None
