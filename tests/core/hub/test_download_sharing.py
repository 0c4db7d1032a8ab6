"""download_file when another download of the same file runs, and how promptly bytes reach the disk."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.hub.client import HubClient
from app.core.hub.download_lock import PartLock
from app.core.hub.downloader import DownloadCancelled, DownloadControl, DownloadPaused, download_file
from tests.support.sample_bytes import pattern_bytes

REPO = "someone/shared-GGUF"
NAME = "shared-Q8_0.gguf"
SIZE = 4 * 1024 * 1024 + 321


DATA = pattern_bytes(SIZE, "share")


@pytest.fixture
def served(hub):
    hub.add_repo(REPO, {NAME: DATA})
    return hub


def _file():
    return HubClient().repo(REPO).files[0]


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class _Background:
    """``download_file`` on a plain thread, with its result or error kept."""

    def __init__(self, folder, control=None) -> None:
        self.result = self.error = None
        self.seen = []
        self.thread = threading.Thread(target=self._run, args=(folder, control), daemon=True)
        self.thread.start()

    def _run(self, folder, control) -> None:
        try:
            self.result = download_file(
                _file(), folder, client=HubClient(), on_progress=self.seen.append, control=control
            )
        except Exception as exc:  # noqa: BLE001 - checked by the test
            self.error = exc

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive()


def test_every_byte_received_is_on_disk_while_the_transfer_is_open(served, tmp_path):
    folder = tmp_path / "models"
    held_at = 1_234_567
    served.hold_next(REPO, NAME, held_at)
    first = _Background(folder)
    part = folder / (NAME + ".part")
    _until(lambda: part.exists() and part.stat().st_size == held_at, 60, "the held bytes on disk")
    assert first.thread.is_alive()
    served.release_holds()
    first.join()
    assert first.error is None and first.result.read_bytes() == DATA


def test_a_second_download_waits_for_the_first_and_reports_its_part(served, tmp_path):
    folder = tmp_path / "models"
    held_at = 1024 * 1024
    served.hold_next(REPO, NAME, held_at)
    served.throttle(1024 * 1024)  # the rest takes seconds once released
    part = folder / (NAME + ".part")
    first = _Background(folder)
    _until(lambda: part.exists() and part.stat().st_size == held_at, 60, "the first download's held bytes")
    second = _Background(folder)
    _until(
        lambda: any(p.state == "elsewhere" and p.done == held_at for p in second.seen),
        60,
        "the second download to report the first one's part",
    )
    served.release_holds()
    first.join()
    second.join()
    assert first.error is None and second.error is None
    assert first.result == second.result and second.result.read_bytes() == DATA
    waiting = [p for p in second.seen if p.state == "elsewhere"]
    assert waiting and waiting[0].total == SIZE
    assert [p.done for p in waiting] == sorted(p.done for p in waiting) and waiting[-1].done > waiting[0].done
    assert second.seen[-1].state == "done"
    gets = [r for method, path, r in served.requests if method == "GET" and path.endswith("/" + NAME)]
    assert gets == [None] and served.total_sent(REPO, NAME) == SIZE
    assert sorted(p.name for p in folder.iterdir()) == [NAME]


@pytest.mark.parametrize("how", ["pause", "cancel"])
def test_pausing_or_cancelling_a_waiting_download_leaves_the_other_ones_part(served, tmp_path, how):
    folder = tmp_path / "models"
    folder.mkdir()
    part = folder / (NAME + ".part")
    part.write_bytes(DATA[:1000])
    other = PartLock(folder, NAME)  # another window is downloading it
    assert other.try_acquire()
    control = DownloadControl()
    waiting = _Background(folder, control)
    _until(lambda: any(p.state == "elsewhere" for p in waiting.seen), 60, "the download to wait")
    assert waiting.seen[0].done == 1000
    getattr(control, how)()
    waiting.join()
    assert isinstance(waiting.error, DownloadPaused if how == "pause" else DownloadCancelled)
    assert "another Fimble window is still downloading it" in str(waiting.error)
    assert part.read_bytes() == DATA[:1000]
    other.release()
    assert served.requests == [r for r in served.requests if "/resolve/" not in r[1]]  # nothing was fetched
