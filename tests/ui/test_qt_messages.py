"""Qt's messages reach the app log, and thread misuse is counted."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import qWarning

from app.core.app_log import LOG_FILE, setup_app_log
from app.ui.qt_messages import install_qt_message_log, is_thread_warning, thread_warnings


def test_thread_warnings_are_recognised():
    assert is_thread_warning("QObject::killTimer: Timers cannot be stopped from another thread")
    assert is_thread_warning("QThread: Destroyed while thread 'fimble-chat-worker' is still running")
    assert is_thread_warning("QObject: Cannot create children for a parent that is in a different thread.")
    assert not is_thread_warning("This plugin does not support propagateSizeHints()")


@pytest.mark.qt_log_level_fail("CRITICAL")  # the warning below is the test's own
def test_qt_warnings_are_written_to_the_app_log_and_counted(tmp_path):
    path = setup_app_log(tmp_path / "logs")
    assert setup_app_log(tmp_path / "logs") == path  # a second call adds no second handler
    install_qt_message_log()
    before = len(thread_warnings())
    qWarning("QObject::killTimer: Timers cannot be stopped from another thread (test)")
    for handler in logging.getLogger("app").handlers:
        handler.flush()
    assert path.name == LOG_FILE
    text = path.read_text(encoding="utf-8")
    assert "WARNING app.qt" in text and "Timers cannot be stopped from another thread (test)" in text
    assert len(thread_warnings()) == before + 1
