"""``bench screenshot`` grabs the real window, with a chat exchange and a file open, into a small PNG."""

from __future__ import annotations

import os

from PySide6.QtGui import QImage

from bench.screenshot import run


def test_the_screenshot_is_the_window_with_its_chat_and_editor(tmp_path, qtbot, fimble_home):
    output = tmp_path / "shots" / "fimble.png"
    result = run(output=output, starter=False)
    assert result["models"] == "tiny" and (result["width"], result["height"]) == (1280, 800)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result["bytes"] == output.stat().st_size < 300_000
    image = QImage(str(output))
    assert (image.width(), image.height()) == (1280, 800)
    # Not a blank frame: the chat pane (left) and the editor (right) both drew something.
    for left in (0, 640):
        colours = {image.pixel(x, y) for x in range(left, left + 640, 8) for y in range(40, 760, 8)}
        assert len(colours) > 10
    assert os.environ["FIMBLE_HOME"] == str(fimble_home)  # the run's own home folder is gone again
