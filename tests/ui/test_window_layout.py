"""The window's size and layout: a first start fits the screen, the layout comes back at the next
start, no content widens the window, the project tree hides, and the panes zoom."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt

from app.core.chat.store import StoredMessage
from app.core.paths import app_dirs
from app.core.settings import load_settings
from app.ui.chat_view import stats_line
from app.ui.main_window import MainWindow
from app.ui.window_state import first_start_rect

# The most a window may ask for, whatever the chat or editor shows: well inside a 1280 px screen.
MIN_WIDTH_BOUND = 900


def test_a_first_start_takes_four_fifths_of_the_screen_centred():
    assert first_start_rect(QRect(0, 0, 1600, 900)) == QRect(160, 90, 1280, 720)
    assert first_start_rect(QRect(1600, 24, 1920, 1056)).center() == QRect(1600, 24, 1920, 1056).center()


def test_the_window_opens_at_four_fifths_of_the_screen(window):
    available = window.screen().availableGeometry()
    expected = first_start_rect(available)
    minimum = window.minimumSizeHint()
    assert minimum.width() < MIN_WIDTH_BOUND
    assert window.width() == max(expected.width(), minimum.width())
    assert window.height() == max(expected.height(), minimum.height())
    if window.width() == expected.width():
        assert window.geometry().center().x() == expected.center().x()


def _answer(text: str) -> StoredMessage:
    stats = {"generated_tokens": 414, "tokens_per_s": 12.3, "ttft_ms": 240}
    return StoredMessage(2, 1, "assistant", text, True, "repetition", stats, 0, 0.0)


def test_no_content_makes_the_window_wider(qtbot, window):
    width = window.width()
    long_line = " ".join(["supercalifragilistic"] * 60) + " " + "x" * 600
    code = "```python\nvalue = " + "+".join(f"item_{i}" for i in range(150)) + "\n" + "y" * 500 + "\n```\n"
    answer = _answer(long_line + "\n\n" + code)
    pane = window.chat_pane
    pane.view.show_messages([answer])
    pane.stats.setText(stats_line(answer))
    pane.show_notice("z" * 400)
    pane.show_banner("The settings file /a/very/long/path/" + "p" * 300 + " was kept aside")
    window.editor_pane.status.setText("suggestion in 120 ms · 500/1000 prompt tokens evaluated · Tab to accept" * 3)
    window.chat_model_label.setText("Chat: " + "a-very-long-model-name-" * 20)
    qtbot.wait(100)  # let the layouts settle

    assert window.minimumSizeHint().width() < MIN_WIDTH_BOUND
    assert window.width() == width
    view = pane.view
    # Prose wraps to the view; a code line too long for it scrolls inside the view.
    assert view.document().textWidth() <= view.viewport().width()
    assert view.minimumSizeHint().width() < MIN_WIDTH_BOUND


def test_the_project_tree_hides_with_ctrl_b_and_stays_hidden(qtbot, window, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("print('hi')\n", encoding="utf-8")
    window.editor_pane.open_folder(str(project))
    tree = window.editor_pane.tree
    assert not tree.isHidden() and window.tree_action.isChecked()
    assert window.tree_action.shortcut().toString() == "Ctrl+B"

    window.tree_action.trigger()  # View → Project Tree, Ctrl+B
    assert tree.isHidden()
    assert load_settings(app_dirs().config).project_tree is False
    window.tree_action.trigger()
    assert not tree.isHidden()
    window.tree_action.trigger()
    window.close()

    again = MainWindow(load_settings(app_dirs().config))
    qtbot.addWidget(again)
    try:
        assert again.editor_pane.project_root == project
        assert again.editor_pane.tree.isHidden() and not again.tree_action.isChecked()
        again.show()
        qtbot.waitExposed(again)
        again.tree_action.trigger()
        qtbot.waitUntil(lambda: again.editor_pane.tree.width() > 50)  # shown with room, not squeezed shut
    finally:
        again.close()


def test_zoom_applies_to_the_focused_pane_and_is_remembered(qtbot, window):
    zoom = window.zoom
    editor_size, chat_size = zoom.point_size("editor"), zoom.point_size("chat")
    view_menu = window.menuBar().actions()[1].menu()
    shortcuts = {a.text(): [s.toString() for s in a.shortcuts()] for a in view_menu.actions()}
    assert shortcuts["Zoom &In"] == ["Ctrl+=", "Ctrl++"] and shortcuts["Zoom &Out"] == ["Ctrl+-"]
    assert shortcuts["&Reset Zoom"] == ["Ctrl+0"]

    window.activateWindow()
    window.editor_pane.editor.setFocus()
    qtbot.waitUntil(lambda: zoom.targets() == ("editor",))
    zoom.zoom_in()
    zoom.zoom_in()
    assert zoom.point_size("editor") == editor_size + 2 and zoom.point_size("chat") == chat_size
    later = window.editor_pane.tabs.new_tab("print(1)")  # a tab opened later follows its pane's zoom
    assert later.editor.font().pointSizeF() == editor_size + 2

    window.chat_pane.input.setFocus()
    qtbot.waitUntil(lambda: zoom.targets() == ("chat",))
    zoom.zoom_out()
    assert zoom.point_size("chat") == chat_size - 1 and zoom.point_size("editor") == editor_size + 2
    assert load_settings(app_dirs().config).zoom == {"editor": 2, "chat": -1}
    zoom.reset()
    assert zoom.point_size("chat") == chat_size
    window.close()

    again = MainWindow(load_settings(app_dirs().config))
    qtbot.addWidget(again)
    try:
        assert again.zoom.point_size("editor") == editor_size + 2 and again.zoom.point_size("chat") == chat_size
    finally:
        again.close()


def test_geometry_splitters_tabs_and_folder_come_back(qtbot, window, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    files = [project / name for name in ("a.py", "b.py", "gone.py")]
    for file in files:
        file.write_text(f"# {file.name}\n", encoding="utf-8")
    window.editor_pane.open_folder(str(project))
    for file in files:
        window.open_path(str(file))
    window.open_path(str(files[1]))  # b.py is the tab shown
    window.tree_action.trigger()  # hidden: the window then fits the small test screen
    window.setGeometry(20, 30, 770, 520)  # inside the 800×600 test screen
    main = window.centralWidget()
    main.setSizes([480, 290])
    window.chat_pane.splitter.setSizes([120, 180])
    qtbot.wait(50)
    kept = {"geometry": window.geometry(), "main": main.sizes(), "chat": window.chat_pane.splitter.sizes()}
    window.close()
    files[2].unlink()

    again = MainWindow(load_settings(app_dirs().config))
    qtbot.addWidget(again)
    again.show()
    try:
        qtbot.waitExposed(again)
        assert again.geometry() == kept["geometry"]
        assert again.centralWidget().sizes() == kept["main"]
        assert again.chat_pane.splitter.sizes() == kept["chat"]
        tabs = again.editor_pane.tabs
        assert [tab.path for tab in tabs.tabs()] == [str(files[0]), str(files[1])]
        assert tabs.current_tab().path == str(files[1])
        assert again.editor_pane.project_root == project and again.editor_pane.tree.isHidden()
        assert "gone.py" in again.statusBar().currentMessage()  # one line, never a dialog
    finally:
        again.close()


def test_a_bad_saved_geometry_gives_a_first_start(qtbot, window):
    window.close()
    settings = load_settings(app_dirs().config)
    settings.window_geometry = "bm90IGEgZ2VvbWV0cnk="  # base64, but not Qt's geometry
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.show()
    try:
        expected = first_start_rect(again.screen().availableGeometry())
        assert again.width() == max(expected.width(), again.minimumSizeHint().width())
    finally:
        again.close()


def test_shortcut_keys_reach_the_actions(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    before = window.tree_action.isChecked()
    qtbot.keyClick(window.editor_pane.editor, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.tree_action.isChecked() is not before
