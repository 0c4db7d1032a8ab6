"""The panes are made before their services (the window paints first) and work once bound."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.chat.store import ChatStore
from app.core.editor.recovery import RecoveryStore
from app.services.chat_service import ChatService
from app.services.completion_service import CompletionService
from app.services.engine_worker import EngineController
from app.ui.chat_pane import ChatPane
from app.ui.editor_pane import EditorPane


def test_a_chat_pane_without_a_service_keeps_what_is_typed_and_works_once_bound(qtbot, tmp_path):
    pane = ChatPane()
    qtbot.addWidget(pane)
    with pytest.raises(RuntimeError, match="no chat service yet"):
        pane.service  # noqa: B018
    with qtbot.captureExceptions() as exceptions:
        pane.search.setText("early")  # a search before the bind lists nothing, and raises nothing
    assert exceptions == [] and pane.list.count() == 0
    pane.search.clear()
    pane.input.setPlainText("a question typed early")
    qtbot.keyClick(pane.input, Qt.Key.Key_Return)  # Enter sends: nothing to send to yet
    qtbot.mouseClick(pane.new_button, Qt.MouseButton.LeftButton)
    assert pane.input.toPlainText() == "a question typed early" and pane.list.count() == 0

    store = ChatStore(tmp_path / "chats.sqlite3")
    store.create_conversation(system_prompt=None)
    controller = EngineController("chat")
    service = ChatService(controller, store)
    try:
        pane.bind(service)
        assert pane.service is service
        assert pane.list.count() == 1  # the open store's chats are listed at once
        qtbot.mouseClick(pane.new_button, Qt.MouseButton.LeftButton)
        assert pane.list.count() == 2 and service.current_id is not None
    finally:
        service.shutdown()
        assert controller.shutdown(10_000)
        store.close()


def test_files_opened_before_the_editor_pane_is_bound_become_completion_context(qtbot, tmp_path):
    helper = tmp_path / "helper.py"
    helper.write_text("def helper(value):\n    return value * 2\n", encoding="utf-8")
    pane = EditorPane(None, RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(pane)
    with pytest.raises(RuntimeError, match="no completion service yet"):
        pane.service  # noqa: B018
    pane.tabs.open_path(str(helper))
    pane.editor.textCursor().insertText("x = 1\n")  # typing before the bind asks for nothing

    controller = EngineController("completion")
    service = CompletionService(controller)
    try:
        pane.bind(service)
        assert [chunk.path for chunk in service.ring.chunks()] == [str(helper)]
        assert pane.auto_box.isChecked() == service.auto_enabled("python")
        pane.auto_box.setChecked(False)  # wired now: the choice reaches the service
        assert not service.auto_enabled("python")
    finally:
        assert controller.shutdown(10_000)
