"""``fimble --self-test``: check that an install can draw a window and run an engine.

This is the one part of the CLI that imports Qt, and only when it is asked for.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams


def self_test() -> int:
    """Check an install: Qt draws a window, and an engine host generates tokens.

    A tiny random-weight model is written to a temporary folder, loaded in a
    spawned engine host, and asked for 8 tokens. Qt runs on the offscreen
    platform unless another one is set, so the check works without a screen.
    """
    try:
        qt = _self_test_qt()
        engine = _self_test_engine(tokens=8)
    except RuntimeError as exc:
        print(f"fimble: self-test failed: {exc}", file=sys.stderr)
        return 1
    print(f"fimble self-test ok: {qt}; {engine}")
    return 0


def _self_test_qt() -> str:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([sys.argv[0]])
    label = QLabel("Fimble self-test")
    label.show()
    app.processEvents()
    shown = label.isVisible()
    label.close()
    if not shown:
        raise RuntimeError("Qt could not show a window")
    return f"Qt {qVersion()} on {QApplication.platformName()}"


def _self_test_engine(tokens: int) -> str:
    from app.engine.client import EngineError
    from app.engine.host_client import HostEngine
    from app.selftest.tiny_gguf import write_tiny_gguf

    with tempfile.TemporaryDirectory(prefix="fimble-self-test-") as folder:
        model = write_tiny_gguf(Path(folder) / "self-test.gguf", "codegemma")
        engine = HostEngine("self-test", log_path=str(Path(folder) / "engine.log"))
        try:
            backend = engine.start()
            engine.load(str(model), LoadParams(n_ctx=512))
            sampling = Sampling(max_tokens=tokens, temperature=0.0, ignore_eos=True)
            request = FimRequest("def add(a, b):\n    ", "\n", sampling=sampling)
            stats = [s for s in engine.generate(1, request) if isinstance(s, GenerationStats)][0]
        except EngineError as exc:
            raise RuntimeError(exc.message) from None
        finally:
            engine.close()
    if stats.generated_tokens != tokens:
        raise RuntimeError(f"the engine generated {stats.generated_tokens} of {tokens} tokens")
    return (
        f"engine host on {backend.backend} generated {stats.generated_tokens} tokens at {stats.tokens_per_s:.0f} tok/s"
    )
