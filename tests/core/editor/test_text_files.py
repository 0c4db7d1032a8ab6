"""Text files open with their encoding and newlines remembered and save back the same way."""

import codecs
import os
import stat
import sys

import pytest

from app.core.editor.text_files import (
    MAX_FILE_BYTES,
    EncodingMismatch,
    FileRefused,
    TextDocument,
    read_text_file,
    write_text_file,
)

POSIX = os.name == "posix"


def save(doc: TextDocument, text: str) -> None:
    write_text_file(doc.path, text, encoding=doc.encoding, newline=doc.newline, bom=doc.bom)


def test_utf8_round_trip(tmp_path):
    path = tmp_path / "hello.py"
    path.write_bytes("print('héllo, wörld ✓')\n".encode())
    doc = read_text_file(path)
    assert (doc.encoding, doc.newline, doc.bom, doc.notice) == ("utf-8", "\n", False, None)
    assert doc.text == "print('héllo, wörld ✓')\n"
    save(doc, doc.text + "x = 1\n")
    assert path.read_bytes() == "print('héllo, wörld ✓')\nx = 1\n".encode()


def test_utf8_bom_is_kept(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"one\ntwo\n")
    doc = read_text_file(path)
    assert doc.bom and doc.encoding == "utf-8" and doc.notice is None
    assert doc.text == "one\ntwo\n"
    save(doc, doc.text)
    assert path.read_bytes() == codecs.BOM_UTF8 + b"one\ntwo\n"


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "añb\r\nc\r\n".encode("utf-16-le"))
    doc = read_text_file(path)
    assert (doc.encoding, doc.newline, doc.bom) == ("utf-16-le", "\r\n", True)
    assert doc.text == "añb\nc\n"
    assert "UTF-16" in doc.notice
    save(doc, doc.text)
    assert path.read_bytes() == codecs.BOM_UTF16_LE + "añb\r\nc\r\n".encode("utf-16-le")


def test_crlf_is_kept_on_save(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"a\r\nb\r\nc\n")
    doc = read_text_file(path)
    assert doc.newline == "\r\n"
    assert doc.text == "a\nb\nc\n"
    save(doc, "a\nB\nc\nd")
    assert path.read_bytes() == b"a\r\nB\r\nc\r\nd"


def test_old_mac_newlines(tmp_path):
    path = tmp_path / "mac.txt"
    path.write_bytes(b"a\rb\r")
    doc = read_text_file(path)
    assert (doc.newline, doc.text) == ("\r", "a\nb\n")


def test_cp1252_gets_notice_and_saves_back_identical(tmp_path):
    original = "caf\u00e9 \u2014 \u201cquoted\u201d \u20ac5\r\nsecond line\r\n".encode("cp1252")
    path = tmp_path / "legacy.txt"
    path.write_bytes(original)
    doc = read_text_file(path)
    assert doc.encoding == "cp1252"
    assert doc.notice == ("legacy.txt is not UTF-8: opened as Windows-1252 and will be saved as Windows-1252")
    edited = doc.text.replace("second", "2nd")
    save(doc, edited)
    assert path.read_bytes() == original.replace(b"second", b"2nd")
    save(doc, doc.text)
    assert path.read_bytes() == original


def test_latin1_fallback_when_cp1252_fails(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_bytes(b"abc \x81 def\n")  # 0x81 is undefined in Windows-1252
    doc = read_text_file(path)
    assert doc.encoding == "latin-1"
    assert "Latin-1" in doc.notice
    save(doc, doc.text)
    assert path.read_bytes() == b"abc \x81 def\n"


def test_unencodable_character_raises_and_leaves_file_untouched(tmp_path):
    original = "na\u00efve\nline two\n".encode("cp1252")
    path = tmp_path / "legacy.txt"
    path.write_bytes(original)
    doc = read_text_file(path)
    with pytest.raises(EncodingMismatch) as caught:
        save(doc, doc.text + "third \u2603 snowman\n")
    error = caught.value
    assert (error.line, error.char, error.encoding) == (3, "\u2603", "cp1252")
    assert "line 3" in str(error) and "\u2603" in str(error) and "Windows-1252" in str(error)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["legacy.txt"]


def test_line_number_counts_crlf_lines(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(EncodingMismatch) as caught:
        write_text_file(path, "a\nb\n\u0100", encoding="latin-1", newline="\r\n")
    assert caught.value.line == 3
    assert not path.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
        b"\x89PNG\r\n\x1a\n",
        b"text then a NUL\x00 byte",
        bytes(range(1, 9)) * 20 + b"some letters",
    ],
)
def test_binary_files_are_refused(tmp_path, data):
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    with pytest.raises(FileRefused, match="photo.png looks like a binary file, not text"):
        read_text_file(path)


def test_ansi_escapes_and_tabs_are_text(tmp_path):
    path = tmp_path / "build.log"
    path.write_bytes(b"\x1b[31mERROR\x1b[0m\tfailed\f\n" * 50)
    assert read_text_file(path).text.startswith("\x1b[31mERROR")


def test_over_limit_is_refused(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(FileRefused, match=r"big.log is 2 KB; Fimble opens files up to 1 KB"):
        read_text_file(path, max_bytes=1024)
    assert read_text_file(path, max_bytes=2048).text == "x" * 2048


def test_default_limit_message(tmp_path):
    path = tmp_path / "big.log"
    with open(path, "wb") as handle:
        handle.truncate(int(12.3 * 1024 * 1024))
    assert MAX_FILE_BYTES == 5 * 1024 * 1024
    with pytest.raises(FileRefused, match=r"^big.log is 12.3 MB; Fimble opens files up to 5 MB$"):
        read_text_file(path)


def test_folder_and_missing_file_are_refused(tmp_path):
    with pytest.raises(FileRefused, match="is a folder, not a file"):
        read_text_file(tmp_path)
    with pytest.raises(FileRefused, match="nothing.txt does not exist"):
        read_text_file(tmp_path / "nothing.txt")


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("secret")
    path.chmod(0)
    with pytest.raises(FileRefused, match="cannot read x.txt: Permission denied"):
        read_text_file(path)


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_read_only_file_is_not_overwritten(tmp_path):
    path = tmp_path / "ro.txt"
    path.write_text("keep")
    path.chmod(0o444)
    with pytest.raises(FileRefused, match="read-only"):
        write_text_file(path, "changed")
    assert path.read_text() == "keep"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a.txt"
    for round_ in range(3):
        write_text_file(path, f"round {round_}\n")
    write_text_file(tmp_path / "b.txt", "new file\n", newline="\r\n")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]
    assert path.read_text() == "round 2\n"
    assert (tmp_path / "b.txt").read_bytes() == b"new file\r\n"


def test_failed_write_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(FileRefused, match="cannot save a.txt: No space left on device"):
        write_text_file(path, "new")
    assert os.listdir(tmp_path) == ["a.txt"]
    assert path.read_text() == "old"


@pytest.mark.skipif(not POSIX, reason="POSIX permission bits")
def test_permission_bits_are_kept(tmp_path):
    path = tmp_path / "run.sh"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o750)
    write_text_file(path, "#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o750


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_target_is_written(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text_file(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_bad_newline_style_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        write_text_file(tmp_path / "a.txt", "x", newline="\n\r")
