"""FIM requests of each shape a prompt builder must lay out, shared by the remote prompt tests."""

from __future__ import annotations

from app.core.generation.contracts import ContextChunk, FimRequest

SHAPED_REQUESTS = [
    FimRequest(prefix="def add(a, b):\n    ", suffix="return a + b\n"),
    FimRequest(
        prefix="x = ",
        suffix="\ny = 2\n",
        path="src/main.py",
        chunks=(ContextChunk("src/util.py", "def helper():\n    pass\n"),),
        order="spm",
    ),
    FimRequest(prefix="", suffix="tail"),
]
SHAPE_IDS = ["psm", "spm-with-context", "empty-prefix"]
