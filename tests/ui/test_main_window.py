"""The main window, wired end to end to real engine hosts."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import Qt

from app.core.models.roles import ModelRole
from app.ui.main_window import MainWindow


def test_status_bar_shows_models_and_backend(window):
    assert window.chat_model_label.text().startswith("Chat: ")
    assert window.completion_model_label.text().startswith("Completion: ")
    assert "tiny-generic-fixture" in window.chat_model_label.text()
    assert "tiny-codellama-fixture" in window.completion_model_label.text()
    assert set(window.loaded_models) == set(ModelRole) and "chat" in window.loaded_models
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


def _menu(window, title: str, text: str):
    for menu_action in window.menuBar().actions():
        if menu_action.text() == title:
            for action in menu_action.menu().actions():
                if action.text() == text:
                    return action
    raise AssertionError(f"no menu item {title} → {text}")


def test_opened_files_are_remembered_and_listed_under_open_recent(window, tmp_path, fimble_home):
    from app.core.paths import app_dirs
    from app.core.settings import load_settings

    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("a = 1\n")
    second.write_text("b = 2\n")
    window.open_path(str(first))
    window.open_path(str(second))
    window.open_path(str(tmp_path / "missing.py"))  # not opened, not remembered
    assert window.settings.recent_files[:2] == [str(second), str(first)]
    assert load_settings(app_dirs().config).recent_files[:2] == [str(second), str(first)]
    recent = _menu(window, "&File", "Open &Recent").menu()
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()][:2] == [str(second), str(first)] and recent.isEnabled()


def test_a_setting_that_cannot_be_saved_is_one_line_in_the_status_bar(window, tmp_path, fimble_home):
    import shutil

    shutil.rmtree(fimble_home / "config")
    (fimble_home / "config").write_text("not a folder")
    path = tmp_path / "c.py"
    path.write_text("c = 3\n")
    window.open_path(str(path))
    assert window.settings.recent_files[0] == str(path)  # kept in memory
    assert window.statusBar().currentMessage().startswith("settings not saved: ")


def test_a_role_given_as_a_string_is_a_model_role(qtbot, window, tiny_models):
    with qtbot.waitSignal(window.completion_engine.worker.loaded, timeout=20_000):
        window.set_model("completion", str(tiny_models["codegemma"]))
    assert window.settings.completion_model == str(tiny_models["codegemma"])
    assert window.loaded_models[ModelRole.COMPLETION] == str(tiny_models["codegemma"])
    with pytest.raises(ValueError):
        window.set_model("Chat", str(tiny_models["codegemma"]))  # a label is not a role


def test_a_bad_settings_file_is_named_in_the_window_and_kept_aside(qtbot, tiny_models, fimble_home):
    from app.core.paths import app_dirs
    from app.core.settings import open_settings

    config = app_dirs().ensure().config
    bad = b'{"chat_model": 42, "completion_model": "%s"}' % str(tiny_models["codellama"]).encode()
    (config / "settings.json").write_bytes(bad)
    opened = open_settings(config)
    assert opened.settings.chat_model != 42 and opened.kept_at is not None
    assert opened.kept_at.read_bytes() == bad
    win = MainWindow(opened.settings, settings_notice=opened.notice)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.completion_engine.worker.loaded, timeout=30_000):
        win.show()
    assert win.chat_pane.banner_bar.isVisible()
    assert opened.kept_at.name in win.chat_pane.banner.text()
    win.close()
