"""The one atomic-write helper: old content or new, never torn, nothing left behind."""

from __future__ import annotations

import stat

import pytest

from app.core.files import atomic_writer, write_bytes_atomic, write_text_atomic


def test_new_content_replaces_old_and_no_temporary_file_is_left(tmp_path):
    target = tmp_path / "deep" / "settings.json"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.json"]


def test_a_failure_inside_the_block_keeps_the_old_content(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_bytes(b"keep me")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("cancelled")
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_keep_mode_and_private(tmp_path):
    target = tmp_path / "script.sh"
    target.write_bytes(b"#!/bin/sh\n")
    target.chmod(0o751)
    write_bytes_atomic(target, b"#!/bin/sh\necho hi\n", keep_mode=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    secret = tmp_path / "token"
    write_text_atomic(secret, "hf_x", private=True)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
