"""API keys: in a keyring when one works, otherwise in a file only the owner can read; never in settings."""

from __future__ import annotations

import json
import os
import stat

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from app.core.remote.secrets import KEYS_FILE, SERVICE, KeyStore

URL = "http://gpu-box:8000"


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in memory (keyring's own backend interface)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not stored")


class LockedKeyring(MemoryKeyring):
    """A keyring the user did not unlock."""

    def get_password(self, service, username):
        raise KeyringLocked("locked")

    def set_password(self, service, username, password):
        raise KeyringLocked("locked")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_without_a_keyring_keys_go_to_a_file_only_the_owner_reads(tmp_path):
    store = KeyStore(tmp_path, backend="file")
    assert store.get(URL) is None
    store.set(URL, "sk-one")
    path = tmp_path / KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyStore(tmp_path, backend="file").get(URL) == "sk-one"
    os.chmod(path, 0o644)  # someone widened it
    assert store.get(URL) == "sk-one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store.delete(URL)
    assert store.get(URL) is None and json.loads(path.read_text()) == {}


def test_with_a_keyring_keys_go_there_and_not_to_the_file(tmp_path):
    ring = MemoryKeyring()
    store = KeyStore(tmp_path, backend=ring)
    where = store.set(URL, "sk-two")
    assert ring.items == {(SERVICE, URL): "sk-two"} and "keyring" in where
    assert not (tmp_path / KEYS_FILE).exists()
    assert store.get(URL) == "sk-two"
    store.delete(URL)
    assert ring.items == {} and store.get(URL) is None
    store.delete(URL)  # nothing stored: no error


def test_a_locked_keyring_falls_back_to_the_file(tmp_path):
    store = KeyStore(tmp_path, backend=LockedKeyring())
    where = store.set(URL, "sk-three")
    assert str(tmp_path / KEYS_FILE) in where
    assert store.get(URL) == "sk-three"


def test_a_key_moved_into_a_working_keyring_leaves_the_file(tmp_path):
    KeyStore(tmp_path, backend="file").set(URL, "old")
    ring = MemoryKeyring()
    KeyStore(tmp_path, backend=ring).set(URL, "new")
    assert ring.items[(SERVICE, URL)] == "new"
    assert json.loads((tmp_path / KEYS_FILE).read_text()) == {}


def test_a_damaged_key_file_reads_as_no_keys(tmp_path):
    (tmp_path / KEYS_FILE).write_text("{not json", encoding="utf-8")
    store = KeyStore(tmp_path, backend="file")
    assert store.get(URL) is None
    store.set(URL, "fresh")
    assert store.get(URL) == "fresh"
