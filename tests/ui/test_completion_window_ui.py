"""The completion window in the window: pinned from the settings, shown in tooltips and Runtime Settings."""

from __future__ import annotations

from app.core.models.load_params import WARM_PLACES_AUTO, LoadParams
from app.core.paths import app_dirs
from app.core.settings import Settings, load_settings
from app.ui.model_settings import ModelSettingsDialog, WindowChoice


def test_runtime_settings_show_and_pin_the_completion_window(qtbot):
    form = ModelSettingsDialog("c.gguf", LoadParams(), window=WindowChoice(None, "completion window 512 tokens"))
    qtbot.addWidget(form)
    assert form.window_box is not None and form.window_now is not None
    assert form.window_now.text() == "completion window 512 tokens"
    assert form.completion_window() is None  # auto
    form.window_box.setValue(768)
    assert form.completion_window() == 768
    form._restore_defaults()
    assert form.completion_window() is None
    pinned = ModelSettingsDialog("c.gguf", LoadParams(), window=WindowChoice(1024))
    qtbot.addWidget(pinned)
    assert pinned.completion_window() == 1024


def test_other_models_have_no_window_row(qtbot):
    form = ModelSettingsDialog("chat.gguf", LoadParams(warm_places_mib=96))
    qtbot.addWidget(form)
    assert form.window_box is None and form.completion_window() is None
    assert form.warm_box is None and form.params().warm_places_mib == 96  # kept as it was


def test_runtime_settings_set_the_warm_places_memory(qtbot):
    form = ModelSettingsDialog("c.gguf", LoadParams(), window=WindowChoice(None))
    qtbot.addWidget(form)
    assert form.warm_box is not None
    assert form.params().warm_places_mib == WARM_PLACES_AUTO
    assert form.warm_box.text() == "Auto (four windows)"
    form.warm_box.setValue(256)
    assert form.params().warm_places_mib == 256
    form.warm_box.setValue(0)
    assert form.params().warm_places_mib == 0  # keep none
    form._restore_defaults()
    assert form.params().warm_places_mib == WARM_PLACES_AUTO


def test_the_main_window_pins_shows_and_unpins_the_window(qtbot, tiny_models, hub):
    from app.ui.main_window import MainWindow

    settings = Settings(
        chat_model=str(tiny_models["generic"]), completion_model=str(tiny_models["codegemma"]), completion_window=640
    )
    window = MainWindow(settings)
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.chat_engine.worker.loaded, window.completion_engine.worker.loaded], timeout=30_000):
        window.show()
    service = window.completion_service
    assert service.pinned_window == 640 and service.window_tokens() == 640
    qtbot.waitUntil(lambda: service.model_id != "", timeout=20_000)
    pane = window.editor_pane
    pane.editor.setPlainText("def add(a, b):\n    ")
    cursor = pane.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    pane.editor.setTextCursor(cursor)
    with qtbot.waitSignal(service.suggestion, timeout=20_000) as answer:
        pane.request_completion()
    assert answer.args[2] is not None  # the engine answered
    assert pane.status.toolTip() == service.window_text()
    assert "640 tokens (pinned)" in pane.status.toolTip()
    assert "warm places" in pane.status.toolTip() and "MiB" in pane.status.toolTip()
    window.open_models()
    dialog = window.models_dialog
    assert dialog is not None and dialog.window_text() == service.window_text()
    dialog.completion_window_changed.emit(None)  # as Runtime Settings do when set back to auto
    assert service.pinned_window is None
    assert load_settings(app_dirs().config).completion_window is None
    assert "sized to this machine" in service.window_text()
    window.close()
