"""The local model library, on real tiny GGUF files in temp folders."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest

from app.core import machine
from app.core.models import library as library_module
from app.core.models.library import CACHE_FILE, REFERENCES_FILE, ImportCancelled, Library, LibraryError
from app.selftest.tiny_gguf import write_tiny_gguf


@pytest.fixture
def lib(tmp_path) -> Library:
    return Library(tmp_path / "models", tmp_path / "config", tmp_path / "cache")


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the library, where the user keeps files."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def count_inspections(monkeypatch) -> list[Path]:
    calls: list[Path] = []
    real = library_module.inspect_model

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(library_module, "inspect_model", counting)
    return calls


def test_listing_reads_family_roles_type_and_size(lib):
    base = write_tiny_gguf(lib.models_dir / "codegemma-2b.gguf", "codegemma", name="codegemma-2b", chat_template=None)
    write_tiny_gguf(lib.models_dir / "codellama-7b.gguf", "codellama", file_type="F16")
    models = lib.models()
    assert [m.name for m in models] == ["codegemma-2b", "codellama-7b"]
    gemma, llama = models
    assert gemma.path == base and gemma.size_bytes == base.stat().st_size
    assert not gemma.referenced and gemma.error is None
    assert gemma.info.family == "codegemma" and gemma.info.file_type == "F32"
    assert llama.info.family == "codellama" and llama.info.file_type == "F16"
    assert llama.roles == ["completion"]
    data = llama.to_json()
    assert data["name"] == "codellama-7b" and data["path"] == str(llama.path)
    assert data["family"] == "codellama" and data["file_type"] == "F16"
    assert data["size_bytes"] == llama.size_bytes and data["roles"] == ["completion"]
    assert data["parameters"] > 0 and data["context_length"] == 4096
    assert data["referenced"] is False and data["error"] is None
    json.dumps(data)


def test_partial_hidden_and_other_files_are_never_listed(lib, tiny_models):
    write_tiny_gguf(lib.models_dir / "done.gguf", "generic")
    write_tiny_gguf(lib.models_dir / "sub" / "nested.gguf", "generic")
    (lib.models_dir / "downloading.gguf.part").write_bytes(tiny_models["generic"].read_bytes())
    (lib.models_dir / "quantizing.part").write_bytes(b"x" * 100)
    (lib.models_dir / ".copy-in-progress.gguf").write_bytes(tiny_models["generic"].read_bytes())
    (lib.models_dir / ".cache" / "huggingface").mkdir(parents=True)
    (lib.models_dir / ".cache" / "huggingface" / "blob.gguf").write_bytes(tiny_models["generic"].read_bytes())
    (lib.models_dir / "README.md").write_text("notes")
    assert [m.name for m in lib.models()] == ["done", "nested"]
    assert lib.find("nested").path == lib.models_dir / "sub" / "nested.gguf"


def test_second_listing_uses_the_cache_until_the_file_changes(lib, monkeypatch):
    path = write_tiny_gguf(lib.models_dir / "a.gguf", "codegemma")
    write_tiny_gguf(lib.models_dir / "b.gguf", "codellama")
    calls = count_inspections(monkeypatch)
    first = lib.models()
    assert len(calls) == 2
    again = Library(lib.models_dir, lib.config_dir, lib.cache_dir).models()  # cache is on disk
    assert len(calls) == 2
    assert [m.info for m in again] == [m.info for m in first]

    write_tiny_gguf(path, "codegemma", n_layers=3)  # new size and mtime
    changed = lib.models()
    assert calls[2:] == [path]
    assert changed[0].info.n_layers == 3


def test_cache_forgets_files_that_are_gone(lib):
    write_tiny_gguf(lib.models_dir / "a.gguf", "generic")
    gone = write_tiny_gguf(lib.models_dir / "b.gguf", "generic")
    lib.models()
    gone.unlink()
    lib.models()
    cached = json.loads((lib.cache_dir / CACHE_FILE).read_text())["models"]
    assert list(cached) == [str(lib.models_dir / "a.gguf")]


def test_a_broken_file_is_listed_with_a_one_line_error(lib, tiny_models, monkeypatch):
    write_tiny_gguf(lib.models_dir / "good.gguf", "generic")
    (lib.models_dir / "notes.gguf").write_text("this is not a model\n" * 10)
    (lib.models_dir / "cut.gguf").write_bytes(tiny_models["codegemma"].read_bytes()[:5000])
    by_name = {m.name: m for m in lib.models()}
    assert by_name["good"].error is None
    for name in ("notes", "cut"):
        model = by_name[name]
        assert model.info is None and model.roles == []
        assert model.error and "\n" not in model.error
        assert model.to_json()["family"] is None
    assert "not a GGUF" in by_name["notes"].error
    calls = count_inspections(monkeypatch)
    assert lib.models()[0].error == by_name["cut"].error  # errors are cached too
    assert calls == []


def test_import_copy_reports_progress_and_copies_every_byte(lib, tiny_models):
    source = tiny_models["codegemma"]
    progress: list[tuple[int, int]] = []
    model = lib.import_file(source, copy=True, on_progress=lambda done, total: progress.append((done, total)))
    assert model.path == lib.models_dir / "codegemma.gguf" and not model.referenced
    assert model.path.read_bytes() == source.read_bytes()
    assert source.exists()
    size = source.stat().st_size
    assert progress[0] == (0, size) and progress[-1] == (size, size)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert model.info.path == str(model.path) and model.info.family == "codegemma"
    assert [p.name for p in lib.models_dir.iterdir()] == ["codegemma.gguf"]
    assert [m.name for m in lib.models()] == ["codegemma"]


def test_cancelled_import_leaves_nothing(lib, tiny_models):
    cancel = threading.Event()
    with pytest.raises(ImportCancelled):
        lib.import_file(tiny_models["generic"], copy=True, cancel=cancel, on_progress=lambda d, t: cancel.set())
    assert list(lib.models_dir.iterdir()) == []
    assert lib.models() == []


def test_a_write_error_mid_copy_leaves_nothing(lib, tiny_models):
    def full_disk(done, total):
        if done:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(LibraryError, match="No space left on device"):
        lib.import_file(tiny_models["generic"], copy=True, on_progress=full_disk)
    assert list(lib.models_dir.iterdir()) == []


def test_import_is_refused_when_the_disk_is_too_full(lib, tiny_models, monkeypatch):
    seen: list[Path] = []

    def tiny_disk(path):
        seen.append(Path(path))
        return 1000

    monkeypatch.setattr(machine, "disk_free", tiny_disk)
    with pytest.raises(LibraryError, match="not enough free disk space") as caught:
        lib.import_file(tiny_models["codellama"], copy=True)
    assert "\n" not in str(caught.value)
    assert seen == [lib.models_dir]
    assert list(lib.models_dir.iterdir()) == []


def test_import_reference_records_the_absolute_path(lib, tiny_models, outside, monkeypatch):
    source = write_tiny_gguf(outside / "mine.gguf", "codellama")
    monkeypatch.chdir(outside)
    model = lib.import_file("mine.gguf", copy=False)
    assert model.referenced and model.path == source and model.name == "mine"
    assert not lib.models_dir.exists() or list(lib.models_dir.iterdir()) == []
    data = json.loads((lib.config_dir / REFERENCES_FILE).read_text())
    assert data["references"] == [str(source)]
    assert [(m.name, m.referenced, m.error) for m in lib.models()] == [("mine", True, None)]

    source.unlink()
    [missing] = lib.models()
    assert missing.error == "file not found" and missing.referenced and missing.size_bytes == 0


def test_import_refuses_a_name_clash_and_a_second_import(lib, tiny_models, outside):
    lib.import_file(tiny_models["generic"], copy=True)
    twin = write_tiny_gguf(outside / "generic.gguf", "codellama")
    for copy in (True, False):
        with pytest.raises(LibraryError, match="a model named generic is already in the library"):
            lib.import_file(twin, copy=copy)
    ref = write_tiny_gguf(outside / "other.gguf", "codellama")
    lib.import_file(ref, copy=False)
    with pytest.raises(LibraryError, match="already in the library"):
        lib.import_file(ref, copy=False)
    assert sorted(m.name for m in lib.models()) == ["generic", "other"]


def test_import_rejects_a_file_that_is_not_a_gguf(lib, outside):
    text = outside / "model.gguf"
    text.write_text("just some text, long enough to get past the size check\n")
    for copy in (True, False):
        with pytest.raises(LibraryError, match="not a GGUF file") as caught:
            lib.import_file(text, copy=copy)
        assert "\n" not in str(caught.value)
    with pytest.raises(LibraryError, match="no such file"):
        lib.import_file(outside / "missing.gguf", copy=True)
    assert lib.models() == []


def test_remove_deletes_owned_files_and_forgets_references(lib, tiny_models, outside):
    owned = lib.import_file(tiny_models["codegemma"], copy=True)
    ref = lib.import_file(write_tiny_gguf(outside / "kept.gguf", "generic"), copy=False)
    lib.remove("codegemma")
    assert not owned.path.exists()
    lib.remove("kept")
    assert ref.path.exists()  # the user's file is left alone
    assert lib.models() == []
    assert json.loads((lib.config_dir / REFERENCES_FILE).read_text())["references"] == []


def test_remove_deletes_a_referenced_file_only_when_asked(lib, outside):
    ref = lib.import_file(write_tiny_gguf(outside / "gone.gguf", "generic"), copy=False)
    lib.remove(ref.path, delete_file=True)
    assert not ref.path.exists() and lib.models() == []


def test_an_owned_file_cannot_be_forgotten_without_deleting_it(lib):
    path = write_tiny_gguf(lib.models_dir / "a.gguf", "generic")
    with pytest.raises(LibraryError, match="deletes the file"):
        lib.remove("a", delete_file=False)
    assert path.exists()


def test_removing_a_nested_file_drops_its_empty_folders(lib):
    path = write_tiny_gguf(lib.models_dir / "org" / "repo" / "m.gguf", "generic")
    lib.remove("m")
    assert not path.parent.parent.exists() and lib.models_dir.exists()


def test_find_by_name_file_name_stem_and_path(lib, outside):
    nested = write_tiny_gguf(lib.models_dir / "org" / "cg.gguf", "codegemma")
    ref = lib.import_file(write_tiny_gguf(outside / "ll.gguf", "codellama"), copy=False)
    assert lib.find("cg").path == nested and lib.find("cg").name == "cg"
    assert lib.find("cg.gguf").path == nested
    assert lib.find("CG").path == nested
    assert lib.find(str(nested)).path == nested
    assert lib.find(outside / "ll.gguf") == ref
    assert lib.find("ll").referenced
    assert lib.folder_of(lib.find("cg")) == nested.parent
    assert lib.folder_of("ll") == outside
    with pytest.raises(LibraryError, match="^no model named nothing-here in the library$"):
        lib.find("nothing-here")


def test_find_refuses_an_ambiguous_name(lib):
    write_tiny_gguf(lib.models_dir / "one" / "same.gguf", "generic")
    write_tiny_gguf(lib.models_dir / "two" / "same.gguf", "generic")
    for name in ("same", "same.gguf"):
        with pytest.raises(LibraryError, match=f"2 models match {name} .*; give the path instead"):
            lib.find(name)
    assert lib.find(lib.models_dir / "two" / "same.gguf").path.parent.name == "two"


def test_default_library_lives_in_the_app_folders(fimble_home):
    lib = Library.default()
    assert lib.models_dir == fimble_home / "data" / "models" and lib.models_dir.is_dir()
    assert lib.config_dir == fimble_home / "config" and lib.cache_dir == fimble_home / "cache"
    assert lib.models() == []


def test_a_stale_or_corrupt_cache_is_ignored(lib, monkeypatch):
    write_tiny_gguf(lib.models_dir / "a.gguf", "generic")
    lib.cache_dir.mkdir(parents=True)
    (lib.cache_dir / CACHE_FILE).write_text("{not json")
    assert lib.models()[0].info.family == "generic"
    data = json.loads((lib.cache_dir / CACHE_FILE).read_text())
    record = data["models"][str(lib.models_dir / "a.gguf")]
    del record["info"]["n_layers"]  # as if an older version wrote it
    (lib.cache_dir / CACHE_FILE).write_text(json.dumps(data))
    calls = count_inspections(monkeypatch)
    assert lib.models()[0].info.n_layers == 2
    assert len(calls) == 1
    assert not any(p.name.endswith(".tmp") for p in lib.cache_dir.iterdir())
    assert os.listdir(lib.cache_dir) == [CACHE_FILE]
