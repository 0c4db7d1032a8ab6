"""The chat transcript renders messages and streams one answer at a time."""

from __future__ import annotations

from app.core.chat.store import StoredMessage
from app.ui.chat_view import ChatView
from tests.support.gui_thread_waits import SignalLog


def _message(mid, role, content, **extra):
    values = dict(partial=False, stop_reason=None, stats=None, position=mid, created_at=0.0)
    values.update(extra)
    return StoredMessage(
        mid,
        1,
        role,
        content,
        values["partial"],
        values["stop_reason"],
        values["stats"],
        values["position"],
        values["created_at"],
    )


def test_streamed_answer_starts_on_its_own_line_and_keeps_earlier_messages(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.show_messages([_message(1, "user", "question <b>?</b>")])
    view.begin_answer(2)
    view.add_text("Here is code:\n\n```python\nprint('hi')\n")
    view._render_stream()
    view.add_text("```\n")
    final = _message(
        2,
        "assistant",
        "Here is code:\n\n```python\nprint('hi')\n```\n",
        stats={"generated_tokens": 9, "tokens_per_s": 30.0, "ttft_ms": 50.0},
        stop_reason="stop",
    )
    view.end_answer(final)
    lines = [line for line in view.toPlainText().splitlines() if line.strip()]
    assert lines[1] == "question <b>?</b>"  # user text is shown literally, never as HTML
    assert lines[2].startswith("Fimble")
    assert "print('hi')" in lines and lines[-1].startswith("9 tokens")
    assert list(view.blocks.values())[0].code.rstrip("\n") == "print('hi')"


def _fragments(view):
    """The document's text fragments in order, as (link target, text)."""
    found = []
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            found.append((fragment.charFormat().anchorHref(), fragment.text()))
            it += 1
        block = block.next()
    return found


def test_a_long_streamed_answer_keeps_its_code_actions_in_order(qtbot):
    import random

    from PySide6.QtCore import QUrl
    from PySide6.QtWidgets import QApplication

    from app.core.markdown.render import render
    from bench.markdown import answer

    view = ChatView()
    qtbot.addWidget(view)
    view.show_messages([_message(1, "user", "explain")])
    text = answer(400)
    expected = render(text).code_blocks
    assert len(expected) >= 6
    view.begin_answer(2)
    rng = random.Random(3)
    end = 0
    while end < len(text):
        step = rng.randint(1, 120)
        view.add_text(text[end : end + step])
        end += step
        view._render_stream()
    view.end_answer(_message(2, "assistant", text, stop_reason="stop"))
    fragments = _fragments(view)
    copies = [i for i, (href, _) in enumerate(fragments) if href.startswith("fimble:copy/")]
    assert [fragments[i][0] for i in copies] == [f"fimble:copy/2.{n}" for n in range(len(expected))]
    actions = SignalLog(view.code_action)
    for n, i in enumerate(copies):
        following = "".join(text for _, text in fragments[i : copies[n + 1] if n + 1 < len(copies) else None])
        assert expected[n].code.splitlines()[0] in following.replace("\u2028", "\n")  # the block under the link
        view._on_anchor(QUrl(fragments[i][0]))
        assert QApplication.clipboard().text() == expected[n].code
    assert actions.calls == [("copy", block) for block in expected]


def test_partial_answers_say_why_they_stopped(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.show_messages(
        [_message(1, "user", "q"), _message(2, "assistant", "half", partial=True, stop_reason="cancelled")]
    )
    assert "stopped" in view.toPlainText()


def test_answers_follow_the_dark_theme(qtbot):
    from PySide6.QtGui import QColor, QGuiApplication, QPalette

    view = ChatView()
    qtbot.addWidget(view)
    answer = _message(1, "assistant", "```python\nx = 1\n```\n\n`inline`")
    view.show_messages([answer])
    light = view.toHtml().lower()
    original = QPalette(QGuiApplication.palette())
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    QGuiApplication.setPalette(dark)  # no OS colour scheme offscreen: the palette decides
    try:
        view.show_messages([answer])
        shown_dark = view.toHtml().lower()
    finally:
        QGuiApplication.setPalette(original)
    assert "#f6f8fa" in light and "#272822" not in light  # light code-block background
    assert "#272822" in shown_dark and "#f6f8fa" not in shown_dark  # monokai's background
    assert list(view.blocks.values())[0].code == "x = 1"


def test_sampling_dialog_returns_valid_settings(qtbot):
    from app.core.generation.contracts import Sampling
    from app.ui.chat_settings import SamplingDialog

    dialog = SamplingDialog(Sampling(temperature=0.3, max_tokens=512, seed=None), "stop")
    qtbot.addWidget(dialog)
    dialog.temperature.setValue(0.9)
    dialog.seed.setValue(42)
    sampling, overflow = dialog.values()
    assert sampling["temperature"] == 0.9 and sampling["max_tokens"] == 512 and sampling["seed"] == 42
    assert overflow == "stop"
