"""The layers of docs/ARCHITECTURE.md, checked on the source: imports point down only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every module a file imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


SOURCES = {_module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _offenders(prefix: str, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for name, path in SOURCES.items():
        if name == prefix or name.startswith(prefix + "."):
            for imported in sorted(_imports(path)):
                if any(imported == b or imported.startswith(b + ".") for b in banned):
                    bad.append(f"{name} imports {imported}")
    return bad


@pytest.mark.parametrize(
    ("layer", "banned"),
    [
        ("app.core", ("PySide6", "llama_cpp", "app.engine", "app.services", "app.ui", "app.cli", "app.selftest")),
        ("app.engine", ("PySide6", "app.services", "app.ui", "app.cli")),
        ("app.services", ("PySide6.QtWidgets", "PySide6.QtGui", "llama_cpp", "app.ui", "app.cli")),
        ("app.cli", ("PySide6", "llama_cpp")),
        ("app.cli_models", ("PySide6", "llama_cpp", "app.ui")),
        ("app.cli_remote", ("PySide6", "llama_cpp", "app.ui", "app.services")),
        ("app.ui", ("llama_cpp",)),
    ],
)
def test_each_layer_imports_only_what_is_below_it(layer, banned):
    assert _offenders(layer, banned) == []


def test_only_the_engine_imports_llama_cpp():
    users = {
        name
        for name, path in SOURCES.items()
        if any(i == "llama_cpp" or i.startswith("llama_cpp.") for i in _imports(path))
    }
    assert users and all(name.startswith("app.engine.") for name in users), users


def test_module_level_imports_have_no_cycles():
    graph = {
        name: {i for i in _imports(path, top_level_only=True) if i in SOURCES and i != name}
        for name, path in SOURCES.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # a package importing its own submodule at the top is not a cycle worth reporting
    cycles = [c for c in cycles if not all(c[0] == m or m.startswith(c[0] + ".") for m in c)]
    assert cycles == []


def test_the_cli_runs_a_headless_command_without_loading_qt(tmp_path):
    code = (
        "import sys, app.cli\n"
        "code = app.cli.main(['models', 'list'])\n"
        "print(code, 'PySide6' in sys.modules, 'llama_cpp' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "FIMBLE_HOME": str(tmp_path)},
    )
    assert done.stdout.split()[-2:] == ["False", "False"], done.stdout + done.stderr
