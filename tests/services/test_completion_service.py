"""CompletionService with a real engine host: latest wins, cache, debounce."""

from __future__ import annotations

import pytest

from app.core.fim.timing import MAX_DEBOUNCE_MS, MIN_DEBOUNCE_MS, adaptive_debounce_ms
from app.core.generation.contracts import DEFAULT_FIM_ORDER, FimRequest
from app.core.models.load_params import LoadParams
from app.services.completion_service import CompletionService, CompletionTuning, EditorSnapshot
from app.services.engine_worker import EngineController

PREFIX = "import os\n\n\ndef list_files(folder):\n    "
SUFFIX = "\n"


@pytest.fixture
def service(qtbot, tiny_models):
    controller = EngineController("completion")
    svc = CompletionService(controller)
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codellama"]), LoadParams(n_ctx=2048))
    qtbot.waitUntil(lambda: svc.model_id != "", timeout=20_000)  # the GUI-thread slot has run
    yield svc
    assert controller.shutdown(10_000)


def _snap(prefix=PREFIX, suffix=SUFFIX) -> EditorSnapshot:
    return EditorSnapshot("main.py", prefix, suffix, "python")


def test_only_the_latest_request_is_answered(qtbot, service):
    seen = []
    service.suggestion.connect(lambda job, text, stats: seen.append(job))
    first = service.request(_snap())
    with qtbot.waitSignal(service.suggestion, timeout=10_000):
        second = service.request(_snap(PREFIX + "fil"))
    qtbot.wait(200)  # give a stale answer time to arrive
    assert first != second and seen == [second]


def test_backspace_and_retype_hits_the_cache(qtbot, service):
    with qtbot.waitSignal(service.suggestion, timeout=10_000) as first:
        service.request(_snap())
    text = first.args[1]
    assert first.args[2] is not None  # computed by the engine
    if not text:
        pytest.skip("the random-weight model suggested nothing to cache")
    with qtbot.waitSignal(service.suggestion, timeout=10_000) as again:
        service.request(_snap())
    assert again.args[1] == text and again.args[2] is None  # no engine involved
    # Typing the suggestion's first character finds the rest without a request.
    if len(text) > 1:
        with qtbot.waitSignal(service.suggestion, timeout=10_000) as typed:
            service.request(_snap(PREFIX + text[0]))
        assert typed.args[1] == text[1:] and typed.args[2] is None
    assert service.cache.hits >= 1


def test_schedule_waits_for_the_debounce_and_respects_the_language_toggle(qtbot, service):
    service.set_auto_enabled("python", False)
    service.schedule("python", _snap)
    with qtbot.assertNotEmitted(service.suggestion, wait=300):
        pass
    service.set_auto_enabled("python", True)
    with qtbot.waitSignal(service.suggestion, timeout=10_000):
        service.schedule("python", _snap)


def test_debounce_follows_latency():
    assert adaptive_debounce_ms([]) == 120
    assert adaptive_debounce_ms([20, 30, 40]) == MIN_DEBOUNCE_MS
    assert adaptive_debounce_ms([400, 500, 600]) == 250
    assert adaptive_debounce_ms([5000]) == MAX_DEBOUNCE_MS


def test_typing_uses_spm_while_one_off_requests_default_to_psm():
    assert CompletionTuning().order == "spm"
    assert FimRequest("x").order == DEFAULT_FIM_ORDER == "psm"
