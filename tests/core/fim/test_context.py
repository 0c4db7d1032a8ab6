"""Context chunks, imported files and the cheap window trim for FIM prompts."""

from pathlib import Path

import pytest

from app.core.fim.context import ChunkRing, fit_window, imported_paths, region_around
from app.core.generation.contracts import ContextChunk


def _text(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def test_ring_keeps_order_oldest_to_newest():
    ring = ChunkRing()
    ring.add("a.py", "alpha = 1\n")
    ring.add("b.py", "beta = 2\n")
    assert ring.chunks() == (ContextChunk("a.py", "alpha = 1\n"), ContextChunk("b.py", "beta = 2\n"))


def test_ring_evicts_the_oldest_over_capacity():
    ring = ChunkRing(capacity=2)
    for name in ("a", "b", "c"):
        ring.add(f"{name}.py", f"{name} = 1\n")
    assert [chunk.path for chunk in ring.chunks()] == ["b.py", "c.py"]
    assert len(ring) == 2


def test_ring_replaces_near_duplicates():
    ring = ChunkRing(similarity=0.8)
    base = [f"line_{i} = {i}" for i in range(10)]
    ring.add("m.py", _text(*base))
    ring.add("other.py", "unrelated = True\n")
    # 9 of 10 lines shared, one changed: Jaccard 9/11 = 0.82 >= 0.8.
    ring.add("m.py", _text(*base[:-1], "line_9 = 99"))
    assert [chunk.path for chunk in ring.chunks()] == ["other.py", "m.py"]
    assert ring.chunks()[-1].text.endswith("line_9 = 99\n")


def test_ring_keeps_chunks_below_the_similarity():
    ring = ChunkRing(similarity=0.8)
    base = [f"line_{i} = {i}" for i in range(10)]
    ring.add("m.py", _text(*base))
    # Half the lines differ: Jaccard 5/15, so both stay.
    ring.add("m.py", _text(*base[:5], *[f"new_{i}" for i in range(5)]))
    assert len(ring) == 2


def test_ring_same_path_and_text_moves_to_newest():
    ring = ChunkRing(similarity=1.0)
    ring.add("a.py", "x = 1\n")
    ring.add("b.py", "y = 2\n")
    ring.add("a.py", "x = 1\n")
    assert [chunk.path for chunk in ring.chunks()] == ["b.py", "a.py"]


def test_ring_trims_long_text_and_ignores_blank_text():
    ring = ChunkRing(max_chunk_lines=3)
    ring.add("long.py", _text(*[f"v{i} = {i}" for i in range(10)]))
    ring.add("blank.py", "  \n\n")
    (chunk,) = ring.chunks()
    assert chunk.text == "v0 = 0\nv1 = 1\nv2 = 2\n"


def test_ring_excludes_the_current_file():
    ring = ChunkRing()
    ring.add("a.py", "a = 1\n")
    ring.add("b.py", "b = 2\n")
    assert [chunk.path for chunk in ring.chunks(exclude_path="a.py")] == ["b.py"]


def test_ring_drops_oldest_first_for_max_chars():
    ring = ChunkRing()
    for name in ("a", "b", "c"):
        ring.add(f"{name}.py", name * 10)  # 4 + 10 = 14 characters each.
    assert [chunk.path for chunk in ring.chunks(max_chars=30)] == ["b.py", "c.py"]
    assert [chunk.path for chunk in ring.chunks(max_chars=42)] == ["a.py", "b.py", "c.py"]
    assert ring.chunks(max_chars=10) == ()
    ring.clear()
    assert ring.chunks() == ()


@pytest.mark.parametrize("kwargs", [{"capacity": 0}, {"max_chunk_lines": 0}, {"similarity": 0.0}, {"similarity": 1.5}])
def test_ring_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        ChunkRing(**kwargs)


def test_region_around():
    text = _text(*[f"l{i}" for i in range(100)])
    assert region_around(text, 50, lines=4) == "l48\nl49\nl50\nl51\n"
    assert region_around(text, 0, lines=3) == "l0\nl1\nl2\n"
    assert region_around(text, 99, lines=3) == "l97\nl98\nl99\n"
    assert region_around(text, 500, lines=2) == "l98\nl99\n"
    assert region_around("a\nb", 1, lines=10) == "a\nb"
    assert region_around(text, 5, lines=0) == ""
    assert region_around("", 0) == ""
    # Lines are counted by "\n" only, as the editor counts them.
    assert region_around("a\fb\nc\nd\n", 1, lines=1) == "c\n"


@pytest.fixture
def project(tmp_path) -> Path:
    files = {
        "pkg/__init__.py": "",
        "pkg/util.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "",
        "pkg/sibling.py": "",
        "pkg/helpers/__init__.py": "",
        "top.py": "",
        "web/src/app.ts": "",
        "web/src/util.ts": "",
        "web/src/lib/index.js": "",
        "web/src/comp.jsx": "",
        "web/src/api.ts": "",
        "c/src/main.c": "",
        "c/src/local.h": "",
        "c/include/shared.h": "",
        "c/shared.h": "",
    }
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return tmp_path.resolve()


def test_python_absolute_imports(project):
    text = "import os\nimport top, pkg.util as u\nfrom pkg.sub import deep\nfrom pkg import helpers\n"
    found = imported_paths(project / "main.py", text, project)
    assert found == [
        project / "top.py",
        project / "pkg/util.py",
        project / "pkg/sub/__init__.py",
        project / "pkg/sub/deep.py",
        project / "pkg/__init__.py",
        project / "pkg/helpers/__init__.py",
    ]


def test_python_relative_imports(project):
    text = "from . import util\nfrom .sibling import thing\nfrom .. import top\nfrom .missing import x\n"
    found = imported_paths(project / "pkg/main.py", text, project)
    assert found == [project / "pkg/util.py", project / "pkg/sibling.py", project / "top.py"]


def test_python_parenthesized_import_and_sibling_script(project):
    text = "from pkg.sub import (\n    deep,\n)\nimport sibling\n"
    found = imported_paths(project / "pkg/script.py", text, project)
    assert found == [project / "pkg/sub/__init__.py", project / "pkg/sub/deep.py", project / "pkg/sibling.py"]


def test_js_and_ts_relative_imports(project):
    text = (
        "import { a } from './util';\nimport lib from \"./lib\";\n"
        "const c = require('./comp');\nconst api = await import('./api.js');\n"
        "import React from 'react';\nexport * from './util';\n"
    )
    found = imported_paths(project / "web/src/app.ts", text, project)
    src = project / "web/src"
    assert found == [src / "util.ts", src / "lib/index.js", src / "comp.jsx", src / "api.ts"]


def test_c_includes_relative_to_file_then_root(project):
    text = '#include <stdio.h>\n#include "local.h"\n# include "shared.h"\n#include "nope.h"\n'
    found = imported_paths(project / "c/src/main.c", text, project / "c")
    assert found == [project / "c/src/local.h", project / "c/shared.h"]


def test_rust_mod_declarations(tmp_path):
    (tmp_path / "src/net").mkdir(parents=True)
    (tmp_path / "src/util.rs").write_text("")
    (tmp_path / "src/net/mod.rs").write_text("")
    text = "mod util;\npub mod net;\nmod gone;\n"
    found = imported_paths(tmp_path / "src/main.rs", text, tmp_path)
    assert found == [(tmp_path / "src/util.rs").resolve(), (tmp_path / "src/net/mod.rs").resolve()]


def test_imports_outside_root_are_skipped(project):
    # top.py exists, but above the given root.
    assert imported_paths(project / "pkg/main.py", "from .. import top\n", project / "pkg") == []
    text = '#include "../../top.py"\n'
    assert imported_paths(project / "c/src/main.c", text, project / "c") == []


def test_odd_input_never_raises_and_results_are_capped(project):
    assert imported_paths(project / "notes.txt", "import top\n", project) == []
    assert imported_paths(project / "main.py", "from \x00 import \x00\nimport \x00", project) == []
    assert imported_paths(project / "web/src/app.ts", "import './\x00'\n", project) == []
    assert imported_paths(project / "c/src/main.c", '#include "/"\n', project) == []
    assert imported_paths(project / "x.py", "from " + "." * 500 + " import a\n", project) == []
    for index in range(20):
        (project / f"m{index}.py").write_text("")
    text = "".join(f"import m{index}\nimport m{index}\n" for index in range(20))
    found = imported_paths(project / "main.py", text, project)
    assert found == [project / f"m{index}.py" for index in range(16)]


def test_a_file_never_imports_itself(project):
    assert imported_paths(project / "top.py", "import top\n", project) == []


def test_fit_window_keeps_whole_lines_near_the_cursor():
    prefix = "line one\nline two\nline three\ncur"
    suffix = "rest\nafter one\nafter two\n"
    assert fit_window(prefix, suffix, 100, 100) == (prefix, suffix)
    assert fit_window(prefix, suffix, 18, 14) == ("line three\ncur", "rest\n")
    # A limit that ends right after a newline keeps that line.
    assert fit_window(prefix, suffix, len("line three\ncur"), len("rest\nafter one\n")) == (
        "line three\ncur",
        "rest\nafter one\n",
    )


def test_fit_window_falls_back_to_characters_for_one_long_line():
    assert fit_window("x" * 50, "y" * 50, 10, 5) == ("x" * 10, "y" * 5)
    assert fit_window("abc", "def", 0, 0) == ("", "")


def test_a_snapped_window_keeps_its_first_line_while_the_user_types():
    prefix = "".join(f"line_{i:03d} = {i}\n" for i in range(200))  # 15 characters a line
    starts = set()
    for typed in ("", "x", "x =", "x = va", "x = value"):
        cut, _ = fit_window(prefix + typed, "", 1200, 0, snap_lines=16)
        first = cut.split("\n", 1)[0]
        assert int(first[5:8]) % 16 == 0 and len(cut) <= 1200
        starts.add(first)
    assert len(starts) == 1
    unsnapped = {fit_window(prefix + "y" * n, "", 1200, 0)[0].split("\n", 1)[0] for n in range(0, 40, 5)}
    assert len(unsnapped) > 1  # without the snap, typing moves the start


def test_a_small_window_gives_up_at_most_a_quarter_of_its_lines_to_the_snap():
    prefix = "".join(f"line_{i:03d} = {i}\n" for i in range(200))
    cut, _ = fit_window(prefix, "", 150, 0, snap_lines=16)  # 10 lines fit
    assert cut.count("\n") >= 10 - 10 // 4 - 1
