"""Run one benchmark as ``python -m bench NAME … --json`` in a child process and read its one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str, timeout: float = 600) -> dict:
    """The benchmark's result; fails the test, with its stderr, if it exits non-zero or prints more than one line."""
    process = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert process.returncode == 0, process.stderr[-2000:]
    lines = process.stdout.strip().splitlines()
    assert len(lines) == 1, process.stdout[-2000:]  # --json: one compact object on one line
    result: dict = json.loads(lines[0])
    return result
