"""What the window's first paint imports, and PySide's per-import source scan.

The first paint must not wait for modules only later work needs: the model
manager's (gguf, numpy, the Hub client), the server's, Pygments' lexers (an
untitled tab is plain text), the Markdown renderer, Jinja or OpenSSL, and none
of the window's services: the engines, the chat store (sqlite3) and the chat
and completion services are made just after the first frame. A fresh child
process paints the real window and reports ``sys.modules`` once its first frame
is done, with the QtWidgets classes PySide has made Python types for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from app.import_scan import _refers_to_pyside, skip_source_scan

CHILD = Path(__file__).resolve().parent / "first_paint_child.py"
ROOT = Path(__file__).resolve().parents[2]
NOT_BEFORE_FIRST_PAINT = (
    "gguf",
    "numpy",
    "httpx2",
    "huggingface_hub",
    "uvicorn",
    "starlette",
    "markdown_it",
    "jinja2",
    "pygments.lexer",
    "pygments.lexers",
    "llama_cpp",
    "multiprocessing",
    "filelock",
    "asyncio",
    "hashlib",
    "secrets",
    "app.ui.block_lexers",
    "app.core.generation.families",
    "app.server.runner",
    "app.services.api_lanes",
    "app.ui.local_server",
    "app.ui.welcome_card",
    "app.services.model_jobs",
    "app.ui.window_services",
    "app.services.chat_service",
    "app.services.completion_service",
    "app.services.engine_worker",
    "app.engine.client",
    "app.core.chat.store",
    "sqlite3",
    "concurrent.futures",
    "html",
)


@pytest.fixture(scope="module")
def first_frame(tmp_path_factory) -> dict[str, set[str]]:
    """What a fresh window's first frame imported (``MODULES``) and which widget types it made (``QTTYPES``)."""
    env = {**os.environ, "FIMBLE_HOME": str(tmp_path_factory.mktemp("home")), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(CHILD)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("MODULES", "QTTYPES"):
            assert key not in report, done.stdout[-2000:]
            report[key] = set(rest.split())
    assert set(report) == {"MODULES", "QTTYPES"}, done.stdout[-2000:]
    return report


def test_first_paint_leaves_later_work_unimported(first_frame):
    modules = first_frame["MODULES"]
    assert "app.ui.main_window" in modules  # the report came from the real window
    early = sorted(name for name in NOT_BEFORE_FIRST_PAINT if name in modules)
    assert early == []


def test_first_frame_wraps_no_widget_that_qt_made_as_a_plain_widget(first_frame):
    # Handing Python a widget Qt made, typed as a plain QWidget (a scroll area's viewport),
    # makes PySide create a Python type for every widget class there is: about 20 ms.
    made = first_frame["QTTYPES"]
    assert {"QMainWindow", "QPlainTextEdit", "QSplitter"} <= made
    assert not made & {"QCalendarWidget", "QMdiArea", "QWizard", "QColumnView"}


def test_pyside_no_longer_reads_each_new_module_source(tmp_path, monkeypatch):
    import inspect

    feature = sys.modules["shibokensupport.feature"]  # PySide6 is imported by the suite's Qt set-up
    assert skip_source_scan() is True
    assert feature._mod_uses_pyside is _refers_to_pyside
    (tmp_path / "uses_qt_probe.py").write_text("from PySide6.QtCore import QObject\n", encoding="utf-8")
    (tmp_path / "plain_probe.py").write_text("VALUE = 1  # says PySide6 only in a comment\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    read: list[object] = []
    real_getsource = inspect.getsource
    monkeypatch.setattr(inspect, "getsource", lambda obj: read.append(obj) or real_getsource(obj))
    import plain_probe  # noqa: F401 - imported for PySide's hook
    import uses_qt_probe  # noqa: F401

    assert feature.pyside_feature_dict["uses_qt_probe"] == 0  # uses PySide: "no feature"
    assert feature.pyside_feature_dict["plain_probe"] == -1  # does not: ignored
    assert read == []
    for name in ("plain_probe", "uses_qt_probe"):
        monkeypatch.delitem(sys.modules, name)


def test_refers_to_pyside_looks_at_globals_only():
    from PySide6 import QtCore

    with_class = types.ModuleType("with_class")
    with_class.QObject = QtCore.QObject
    with_module = types.ModuleType("with_module")
    with_module.QtCore = QtCore
    without = types.ModuleType("without")
    without.path = os.path
    without.text = "PySide6"
    assert _refers_to_pyside(with_class)
    assert _refers_to_pyside(with_module)
    assert not _refers_to_pyside(without)
    assert not _refers_to_pyside(object())


def test_refers_to_pyside_never_raises_and_leaves_lazy_modules_unloaded(tmp_path, monkeypatch):
    import importlib.util

    class BrokenModuleName(type):
        def __getattribute__(cls, name):
            if name == "__module__":
                raise RuntimeError("no module for you")
            return super().__getattribute__(name)

    odd = types.ModuleType("odd")
    odd.Strange = BrokenModuleName("Strange", (), {})
    assert not _refers_to_pyside(odd)

    (tmp_path / "lazy_probe.py").write_text("LOADED = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.find_spec("lazy_probe")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    loader.exec_module(lazy)
    holder = types.ModuleType("holder")
    holder.lazy = lazy
    assert not _refers_to_pyside(holder)
    assert "LOADED" not in object.__getattribute__(lazy, "__dict__")  # still not loaded
