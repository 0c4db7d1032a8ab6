"""The Engines dialog: a role moved to a remote server from the window, and back.

The server is llama-cpp-python's OpenAI-compatible server, a real process on
127.0.0.1 that wants an API key.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from app.core.models.roles import ModelRole
from app.core.paths import app_dirs
from app.core.remote.choice import RemoteChoice
from app.core.remote.secrets import KEYS_FILE
from app.core.settings import Settings
from app.ui.main_window import MainWindow
from tests.engine.remote.conftest import API_KEY, codellama_server, keyed_server  # noqa: F401 - the fixtures


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_chat_moves_to_a_server_with_a_tested_connection_and_back(qtbot, window, keyed_server):  # noqa: F811
    dialog = window.model_roles.open_engines()
    form = dialog.forms[ModelRole.CHAT]
    assert form.local.isChecked() and not form.details.isEnabled()
    form.remote.setChecked(True)
    form.url.setText(f"{keyed_server.base_url}/v1")
    form.key.setText(API_KEY)
    _click(qtbot, form.test_button)
    assert form.test_button.text() == "Stop test"
    qtbot.waitUntil(lambda: "round trip" in form.result.text() or bool(form.error.text()), timeout=30_000)
    assert form.error.text() == ""
    assert "llama-cpp-python server" in form.result.text() and " ms" in form.result.text()
    assert form.model.findText("tiny-generic") >= 0

    with qtbot.waitSignal(window.chat_engine.worker.loaded, timeout=30_000):
        dialog.apply()
    qtbot.waitUntil(lambda: "on 127.0.0.1:" in window.chat_model_label.text(), timeout=10_000)
    assert window.chat_model_label.text() == f"Chat: tiny-generic on 127.0.0.1:{keyed_server.port}"
    saved = json.loads((app_dirs().config / "settings.json").read_text())
    assert saved["remote_engines"]["chat"] == {
        "url": keyed_server.base_url,
        "model": "tiny-generic",
        "family": None,
        "active": True,
    }
    assert API_KEY not in (app_dirs().config / "settings.json").read_text()
    assert API_KEY in (app_dirs().config / KEYS_FILE).read_text()  # no keyring on a headless box

    conversation = window.chat_service.new_conversation()
    window.chat_store.set_sampling(conversation.id, {"max_tokens": 4, "temperature": 0.0})
    with qtbot.waitSignal(window.chat_service.answer_finished, timeout=30_000):
        window.chat_service.send("hello over the network")
    assert window.chat_service.messages()[-1].role == "assistant"

    back = window.model_roles.open_engines()
    assert back.forms[ModelRole.CHAT].remote.isChecked()
    back.forms[ModelRole.CHAT].local.setChecked(True)
    with qtbot.waitSignal(window.chat_engine.worker.loaded, timeout=30_000):
        back.apply()
    qtbot.waitUntil(lambda: "tiny-generic-fixture" in window.chat_model_label.text(), timeout=10_000)
    saved = json.loads((app_dirs().config / "settings.json").read_text())
    assert saved["remote_engines"]["chat"]["active"] is False  # the server is remembered for next time


def test_a_bad_url_is_one_line_in_the_form_and_the_dialog_stays(qtbot, window):
    dialog = window.model_roles.open_engines()
    form = dialog.forms[ModelRole.COMPLETION]
    form.remote.setChecked(True)
    form.url.setText("ftp://gpu-box:21")
    dialog.apply()
    assert dialog.isVisible()
    assert form.error.text() == "ftp://gpu-box:21: the URL must start with http:// or https://"
    form.url.setText("")
    dialog.apply()
    assert dialog.isVisible() and "give the server's URL" in form.error.text()
    dialog.reject()


def test_a_test_against_nothing_says_so_and_a_running_test_can_be_stopped(qtbot, window):
    from tests.support.llama_server import free_port

    dialog = window.model_roles.open_engines()
    form = dialog.forms[ModelRole.CHAT]
    form.remote.setChecked(True)
    form.url.setText(f"127.0.0.1:{free_port()}")
    _click(qtbot, form.test_button)
    qtbot.waitUntil(lambda: bool(form.error.text()), timeout=30_000)
    assert "connection refused" in form.error.text() and form.test_button.text() == "Test connection"
    _click(qtbot, form.test_button)
    _click(qtbot, form.test_button)  # stop it at once
    assert form.result.text() == "Test stopped." and form.test_button.text() == "Test connection"
    dialog.reject()


def test_a_window_starts_on_the_remote_engine_the_settings_name(qtbot, tiny_models, keyed_server):  # noqa: F811
    from app.core.remote.secrets import KeyStore

    KeyStore(app_dirs().ensure().config, backend="file").set(keyed_server.base_url, API_KEY)
    settings = Settings(chat_model=str(tiny_models["generic"]), completion_model=str(tiny_models["codellama"]))
    settings.remote_engines["chat"] = RemoteChoice(keyed_server.base_url, "tiny-generic").to_dict()
    win = MainWindow(settings)
    qtbot.addWidget(win)
    with qtbot.waitSignals([win.chat_engine.worker.loaded, win.completion_engine.worker.loaded], timeout=30_000):
        win.show()
    try:
        assert win.chat_model_label.text() == f"Chat: tiny-generic on 127.0.0.1:{keyed_server.port}"
        assert "tiny-codellama-fixture" in win.completion_model_label.text()
    finally:
        win.close()


def test_ghost_text_comes_from_a_remote_completion_engine(qtbot, window, codellama_server):  # noqa: F811
    dialog = window.model_roles.open_engines()
    form = dialog.forms[ModelRole.COMPLETION]
    form.remote.setChecked(True)
    form.url.setText(codellama_server.base_url)
    form.family.setCurrentIndex(form.family.findData("codellama"))
    with qtbot.waitSignal(window.completion_engine.worker.loaded, timeout=30_000) as loaded:
        dialog.apply()
    assert loaded.args[0].info.architecture == "remote" and loaded.args[0].info.family == "codellama"
    qtbot.waitUntil(lambda: "on 127.0.0.1:" in window.completion_model_label.text(), timeout=10_000)
    editor = window.editor_pane.editor
    editor.setPlainText("def add(a, b):\n    ")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    before = editor.toPlainText()
    window.activateWindow()  # the closed dialog had the focus; Ctrl+Space is a window shortcut
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    with qtbot.waitSignal(window.completion_service.suggestion, timeout=30_000) as got:
        qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    suggestion = got.args[1]
    assert suggestion.strip() and editor.ghost.text == suggestion
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == before + suggestion
    assert window.backend_label.text() != "Backend: Remote"  # this machine's llama.cpp, not the server
