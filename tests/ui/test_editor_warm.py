"""The editor warms the engine where the cursor settles and asks again after a whole accept."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from app.core.editor.recovery import RecoveryStore
from app.core.models.load_params import LoadParams
from app.ui.code_editor import CodeEditor
from tests.support.gui_thread_waits import SignalLog

SOURCE = "".join(f"def handler_{i}(event):\n    return event.value * {i}\n\n\n" for i in range(20))


@pytest.fixture
def pane(qtbot, tiny_models, tmp_path):
    from app.services.completion_service import CompletionService
    from app.services.engine_worker import EngineController
    from app.ui.editor_pane import EditorPane

    controller = EngineController("completion")
    service = CompletionService(controller)
    service.tuning.use_cache = False  # every request goes to the engine
    with qtbot.waitSignal(controller.worker.loaded, timeout=20_000):
        controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096))
    qtbot.waitUntil(lambda: service.model_id != "", timeout=20_000)
    widget = EditorPane(service, RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    assert controller.shutdown(10_000)


def _move_to(editor: CodeEditor, line: int) -> None:
    cursor = editor.textCursor()
    cursor.setPosition(editor.document().findBlockByNumber(line).position())
    cursor.movePosition(QTextCursor.MoveOperation.EndOfLine)
    editor.setTextCursor(cursor)


def test_moves_are_told_apart_from_edits_and_tab_from_partial_accepts(qtbot):
    editor = CodeEditor()
    qtbot.addWidget(editor)
    editor.setPlainText("def add(a, b):\n    \n")
    moved, accepted = SignalLog(editor.moved), SignalLog(editor.accepted)
    _move_to(editor, 1)
    assert len(moved.calls) == 1
    qtbot.keyClicks(editor, "ret")
    assert len(moved.calls) == 1  # typing moves the cursor, but as an edit
    editor.ghost.show("urn a + b\nprint(1)")
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # a word
    qtbot.keyClick(editor, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)  # a line
    assert accepted.calls == [] and editor.ghost.text == "print(1)"
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert len(accepted.calls) == 1 and not editor.ghost.visible and len(moved.calls) == 1


def test_opening_a_file_and_moving_the_cursor_warm_the_engine_without_ghost_text(qtbot, pane, tmp_path):
    service = pane.service
    shown, partial = SignalLog(service.suggestion), SignalLog(service.partial)
    source = tmp_path / "handlers.py"
    source.write_text(SOURCE, encoding="utf-8")
    with qtbot.waitSignal(service.warmed, timeout=20_000) as opened:
        tab = pane.tabs.open_path(str(source))
    assert opened.args[1].finish_reason == "prompt" and opened.args[1].generated_tokens == 0
    editor = tab.editor
    with qtbot.waitSignal(service.warmed, timeout=20_000) as moved:
        _move_to(editor, 41)  # a jump to the middle of the file
    stats = moved.args[1]
    assert stats.finish_reason == "prompt" and stats.generated_tokens == 0
    assert stats.evaluated_tokens == stats.prompt_tokens and stats.prompt_tokens - stats.reused_tokens > 50
    assert shown.calls == [] and partial.calls == [] and not editor.ghost.visible
    # The first real request there evaluates one token, the rest is warm.
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        pane.request_completion()
    real = answer.args[2]
    assert real.prompt_tokens == stats.prompt_tokens and real.prompt_tokens - real.reused_tokens == 1


def test_typing_does_not_warm_and_tab_asks_for_the_next_suggestion_at_once(qtbot, pane, tmp_path):
    service = pane.service
    source = tmp_path / "handlers.py"
    source.write_text(SOURCE, encoding="utf-8")
    with qtbot.waitSignal(service.warmed, timeout=20_000):
        editor = pane.tabs.open_path(str(source)).editor
    with qtbot.waitSignal(service.warmed, timeout=20_000):
        _move_to(editor, 41)
    warmed = SignalLog(service.warmed)
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as typed:
        qtbot.keyClicks(editor, "  # ok")
    assert warmed.calls == [] and typed.args[2] is not None
    # Partial accepts insert text but ask for nothing.
    editor.ghost.show("total = 1\ncount = 2")
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert service.current_job is None and editor.ghost.text.startswith(" = 1")
    # Tab takes the rest; the next request leaves at once, without the debounce.
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    job = service.current_job
    assert job is not None and not service._debounce.isActive() and pane._request[1] == job
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        pass
    stats = answer.args[2]
    assert answer.args[0] == job
    assert stats.reused_tokens >= typed.args[2].prompt_tokens - 4  # the prompt extends the cached one
    assert stats.prompt_tokens - stats.reused_tokens < 30
    assert warmed.calls == []  # accepting is an edit, not a settled cursor


def test_moving_away_from_a_requested_suggestion_clears_completing_from_the_status(qtbot, pane, tmp_path):
    from app.ui.editor_pane import COMPLETING

    source = tmp_path / "handlers.py"
    source.write_text(SOURCE, encoding="utf-8")
    with qtbot.waitSignal(pane.service.warmed, timeout=20_000):
        editor = pane.tabs.open_path(str(source)).editor
    pane.request_completion()
    assert pane.status.text() == COMPLETING
    _move_to(editor, 5)  # the answer for the old place will not be shown
    assert pane.status.text() == ""


def test_a_settle_wait_that_outlives_its_editor_warms_nothing(qtbot, pane, tmp_path):
    import shiboken6

    from app.services.completion_service import SETTLE_MS

    source = tmp_path / "handlers.py"
    source.write_text(SOURCE, encoding="utf-8")
    with qtbot.waitSignal(pane.service.warmed, timeout=20_000):
        editor = pane.tabs.open_path(str(source)).editor
    warmed = SignalLog(pane.service.warmed)
    _move_to(editor, 30)  # the service now waits for the cursor to rest
    assert pane.tabs.close_tab(pane.tabs.currentIndex())
    qtbot.waitUntil(lambda: not shiboken6.isValid(editor), timeout=5_000)
    qtbot.wait(SETTLE_MS * 3)  # the wait ends with the editor gone: nothing to snapshot, no error
    assert warmed.calls == [] and pane.service.warm_job is None
