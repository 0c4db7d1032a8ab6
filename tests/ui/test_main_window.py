"""The main window, wired end to end to real engine hosts."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tiny_models):
    settings = Settings(chat_model=str(tiny_models["generic"]), completion_model=str(tiny_models["codellama"]),
                        chat_params={"n_ctx": 4096}, completion_params={"n_ctx": 1024})
    win = MainWindow(settings)
    qtbot.addWidget(win)
    with qtbot.waitSignals([win.chat_engine.worker.loaded, win.completion_engine.worker.loaded], timeout=30_000):
        win.show()
    yield win
    win.close()


def test_status_bar_shows_models_and_backend(window):
    assert "tiny-generic-fixture" in window.chat_model_label.text()
    assert "tiny-codellama-fixture" in window.completion_model_label.text()
    assert window.backend_label.text().startswith("Backend: ")
    assert "…" not in window.backend_label.text()


def _chat_sampling(window, **values):
    conversation = window.chat_service.new_conversation()
    window.chat_store.set_sampling(conversation.id, values)


def test_chat_message_streams_an_answer(qtbot, window):
    _chat_sampling(window, max_tokens=16, temperature=0.0, ignore_eos=True)
    pieces = []
    window.chat_service.answer_piece.connect(lambda _job, text: pieces.append(text))
    window.chat_pane.input.setPlainText("How do I reverse a list?")
    with qtbot.waitSignal(window.chat_service.answer_finished, timeout=10_000):
        qtbot.mouseClick(window.chat_pane.send_button, Qt.MouseButton.LeftButton)
    transcript = window.chat_pane.view.toPlainText()
    assert "How do I reverse a list?" in transcript
    assert "".join(pieces)
    assert "tok/s" in window.chat_pane.stats.text()
    assert window.chat_pane.input.toPlainText() == ""
    stored = window.chat_service.messages()
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == "".join(pieces) and stored[1].stop_reason == "length"


def test_editor_completion_is_ghost_text_until_accepted(qtbot, window):
    editor = window.editor_pane.editor
    editor.setPlainText("def add(a, b):\n    ")
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    before = editor.toPlainText()
    with qtbot.waitSignal(window.completion_service.suggestion, timeout=10_000) as got:
        qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    suggestion = got.args[1]
    assert suggestion.strip()
    assert editor.ghost.text == suggestion
    assert editor.toPlainText() == before  # painted, not inserted
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == before + suggestion
    assert editor.ghost.text == ""


def test_escape_dismisses_the_ghost(qtbot, window):
    editor = window.editor_pane.editor
    editor.setPlainText("x = ")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    editor.ghost.show("42")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.ghost.text == "" and editor.toPlainText() == "x = "


def test_closing_mid_generation_is_quick_and_clean(qtbot, window, qtlog):
    _chat_sampling(window, max_tokens=100_000, temperature=0.8, ignore_eos=True)
    window.chat_pane.input.setPlainText("Write a long story")
    with qtbot.waitSignal(window.chat_service.answer_piece, timeout=10_000):
        window.chat_pane.send()
    pids = [c.worker.engine.pid for c in (window.chat_engine, window.completion_engine)]
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 10.0  # generous: closing waits for events, not a clock
    assert not window.chat_engine.worker_thread.isRunning() and not window.completion_engine.worker_thread.isRunning()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


def test_loading_another_model_is_remembered(qtbot, window, tiny_models, fimble_home):
    from app.core.paths import app_dirs
    from app.core.settings import load_settings

    with qtbot.waitSignal(window.chat_engine.worker.loaded, timeout=20_000) as loaded:
        window.set_model("chat", str(tiny_models["codegemma"]))
    assert loaded.args[0].info.family == "codegemma"
    assert "tiny-codegemma-fixture" in window.chat_model_label.text()
    assert load_settings(app_dirs().config).chat_model == str(tiny_models["codegemma"])


def test_an_answer_that_ends_after_switching_to_an_empty_chat_stays_in_its_own(qtbot, window):
    _chat_sampling(window, max_tokens=100_000, temperature=0.8, ignore_eos=True)
    first = window.chat_service.current_id
    window.chat_pane.input.setPlainText("Write a long story")
    with qtbot.waitSignal(window.chat_service.answer_piece, timeout=10_000):
        window.chat_pane.send()
    with qtbot.captureExceptions() as exceptions:
        with qtbot.waitSignal(window.chat_service.answer_finished, timeout=10_000):
            window.chat_pane.new_button.click()  # stops the answer; it ends while the new chat is shown
    assert exceptions == []
    assert window.chat_pane.send_button.isEnabled() and not window.chat_pane.stop_button.isEnabled()
    assert window.chat_service.messages() == [] and "Fimble" not in window.chat_pane.view.toPlainText()
    answer = window.chat_store.messages(first)[-1]
    assert answer.role == "assistant" and answer.partial and answer.stop_reason == "cancelled"
