"""Models → Local Server…: start, address, token and Copy, request count, last error, stop, window close."""

from __future__ import annotations

import socket
import threading

import httpx2 as httpx
from PySide6.QtGui import QGuiApplication

from app.server.guard import token_path


def _start(qtbot, dialog, port: int = 0) -> None:
    dialog.port.setValue(port)
    dialog.toggle.click()
    qtbot.waitUntil(lambda: dialog.control.state == "on", timeout=20_000)
    dialog.refresh()


def _get_in_thread(url: str, token: str, results: list) -> threading.Thread:
    """A client call off the GUI thread (the server's jobs are fed from the GUI thread)."""

    def call() -> None:
        results.append(httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=30))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_the_dialog_starts_the_server_over_the_window_models(qtbot, window):
    dialog = window.open_local_server()
    assert dialog.status.text() == "Off" and dialog.toggle.text() == "Start server"
    _start(qtbot, dialog)
    url = dialog.control.url
    assert url.startswith("http://127.0.0.1:") and f"Serving on {url}" in dialog.status.text()
    assert dialog.toggle.text() == "Stop server" and not dialog.host.isEnabled()
    token = dialog.token.text()
    assert token == token_path().read_text(encoding="utf-8").strip() and len(token) >= 16
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == token
    results: list = []
    thread = _get_in_thread(url, token, results)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=30_000)
    assert results[0].status_code == 200
    assert {m["id"] for m in results[0].json()["data"]} == {"generic", "codellama"}
    refused: list = []
    thread = _get_in_thread(url, "wrong-token", refused)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=30_000)
    assert refused[0].status_code == 401
    qtbot.waitUntil(lambda: (dialog.refresh(), dialog.error.text() != "none")[1], timeout=5_000)
    assert "token" in dialog.error.text().lower()


def test_stop_frees_the_port_and_a_new_token_locks_out_the_old(qtbot, window):
    dialog = window.open_local_server()
    _start(qtbot, dialog)
    old = dialog.token.text()
    dialog.new_token_button.click()
    assert dialog.token.text() != old
    results: list = []
    thread = _get_in_thread(dialog.control.url, old, results)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=30_000)
    assert results[0].status_code == 401
    port = dialog.control.server.port
    dialog.toggle.click()
    qtbot.waitUntil(lambda: dialog.control.state == "off", timeout=20_000)
    dialog.refresh()
    assert dialog.status.text() == "Off" and dialog.host.isEnabled()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_another_machines_address_needs_a_tick_and_a_taken_port_is_one_line(qtbot, window):
    dialog = window.open_local_server()
    dialog.host.setText("0.0.0.0")
    assert not dialog.expose.isHidden()
    dialog.toggle.click()
    assert dialog.control.state == "off"
    assert "other machines" in dialog.error.text() and "\n" not in dialog.error.text()
    dialog.host.setText("127.0.0.1")
    assert dialog.expose.isHidden()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        dialog.port.setValue(taken.getsockname()[1])
        dialog.toggle.click()
        qtbot.waitUntil(lambda: dialog.control.state == "off" and dialog.control.error != "", timeout=20_000)
    dialog.refresh()
    assert "cannot listen on 127.0.0.1" in dialog.error.text() and "\n" not in dialog.error.text()


def test_closing_the_window_stops_a_running_server(qtbot, window):
    dialog = window.open_local_server()
    _start(qtbot, dialog)
    port = dialog.control.server.port
    window.close()
    assert dialog.control.state == "off"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_server_left_on_starts_with_the_next_window(qtbot, window, tiny_models):
    from app.core.settings import Settings
    from app.ui.main_window import MainWindow

    dialog = window.open_local_server()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    _start(qtbot, dialog, port)
    assert window.settings.local_server == {"on": True, "host": "127.0.0.1", "port": port, "expose": False}
    window.close()
    settings = Settings(
        chat_model=str(tiny_models["generic"]),
        completion_model=str(tiny_models["codellama"]),
        local_server=dict(window.settings.local_server),
    )
    again = MainWindow(settings)
    qtbot.addWidget(again)
    try:
        control = again.services.local_server
        qtbot.waitUntil(lambda: control.state == "on", timeout=20_000)
        assert control.server.port == port
        again.open_local_server().toggle.click()  # the user stops it: the next window will not serve
        qtbot.waitUntil(lambda: control.state == "off", timeout=20_000)
        assert again.settings.local_server["on"] is False
    finally:
        again.close()
