"""download_file against a local Hub look-alike: resume, verification, gating, disk, pause and cancel."""

from __future__ import annotations

import errno
import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

import app.core.hub.downloader as downloader
from app.core import machine
from app.core.errors import ErrorKind
from app.core.hub.client import HubClient, HubError
from app.core.hub.downloader import (
    DownloadCancelled,
    DownloadControl,
    DownloadError,
    DownloadPaused,
    discard_partial,
    download_file,
    partial_downloads,
)
from app.core.hub.retry import NO_RETRY, RetryPolicy
from app.core.hub.token import save_token
from tests.support.hub_server import HubServer
from tests.support.sample_bytes import pattern_bytes

REPO = "someone/codegemma-7b-it-GGUF"
NAME = "codegemma-7b-it-Q4_K_M.gguf"
SIZE = 3 * 1024 * 1024 + 12345
DATA = pattern_bytes(SIZE)
# Retries without the waiting, so a test of them takes no longer than its transfers.
QUICK = RetryPolicy(attempts=5, first_wait_s=0.01, max_wait_s=0.05, total_wait_s=5.0)


@pytest.fixture
def served(hub):
    hub.add_repo(REPO, {NAME: DATA, "README.md": b"card"})
    return hub


def _file(name: str = NAME, repo: str = REPO):
    return next(f for f in HubClient().repo(repo).files if f.filename == name)


def _gets(hub, name: str = NAME) -> list[str | None]:
    return [rng for method, path, rng in hub.requests if method == "GET" and path.endswith("/" + name)]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_full_pull_is_verified_and_renamed(served, tmp_path):
    seen = []
    path = download_file(_file(), tmp_path / "models", client=HubClient(), on_progress=seen.append)
    assert path == tmp_path / "models" / NAME and path.read_bytes() == DATA
    assert _leftovers(tmp_path / "models") == [NAME]  # no .part, no sidecar
    states = [p.state for p in seen]
    assert states[0] == "downloading" and states[-2:] == ["verifying", "done"]
    assert seen[-1].done == seen[-1].total == SIZE and seen[-1].eta_s == 0
    assert _gets(served) == [None]

    again = download_file(_file(), tmp_path / "models", client=HubClient())
    assert again == path and _gets(served) == [None]  # already there: nothing fetched


def test_cut_transfer_resumes_with_a_range_and_little_overlap(served, tmp_path):
    folder = tmp_path / "models"
    served.cut_next(REPO, NAME, SIZE // 2)
    with pytest.raises(DownloadError) as caught:
        download_file(_file(), folder, client=HubClient(), retry=NO_RETRY)
    assert caught.value.kind == "http"
    assert str(caught.value) == f"the download of {NAME} was interrupted at 49%; it will resume from there"
    part, sidecar = folder / (NAME + ".part"), folder / (NAME + ".part.json")
    assert part.stat().st_size == SIZE // 2 and json.loads(sidecar.read_text())["sha256"] == _file().sha256

    path = download_file(_file(), folder, client=HubClient())
    assert path.read_bytes() == DATA and _leftovers(folder) == [NAME]
    assert _gets(served) == [None, f"bytes={SIZE // 2}-"]
    extra = served.bytes_sent[(REPO, NAME)] - SIZE
    assert 0 <= extra < SIZE // 100


def test_resume_after_a_restart_finds_the_sidecar(served, tmp_path):
    folder = tmp_path / "models"
    served.cut_next(REPO, NAME, 1_000_000)
    with pytest.raises(DownloadError):
        download_file(_file(), folder, client=HubClient(), retry=NO_RETRY)

    # A new run: only what is on disk is known.
    [partial] = partial_downloads(folder)
    assert (partial.repo_id, partial.filename, partial.done_bytes, partial.size) == (REPO, NAME, 1_000_000, SIZE)
    assert partial.hub_file() == _file()
    path = download_file(partial.hub_file(), folder, client=HubClient())
    assert path.read_bytes() == DATA and partial_downloads(folder) == []
    assert _gets(served)[-1] == "bytes=1000000-"
    assert served.bytes_sent[(REPO, NAME)] == SIZE


def test_part_without_sidecar_or_of_another_file_is_discarded(served, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / (NAME + ".part")).write_bytes(b"junk" * 1000)
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA
    (folder / NAME).unlink()

    (folder / (NAME + ".part")).write_bytes(DATA[:5000])
    (folder / (NAME + ".part.json")).write_text(
        json.dumps(
            {"repo_id": "other/repo-GGUF", "filename": NAME, "revision": "main", "size": SIZE, "sha256": "0" * 64}
        )
    )
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA
    assert _gets(served) == [None, None]


def test_complete_part_is_verified_without_a_request(served, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    listed = _file()
    meta = {"repo_id": REPO, "filename": NAME, "revision": listed.revision, "size": SIZE, "sha256": listed.sha256}
    (folder / (NAME + ".part")).write_bytes(DATA)
    (folder / (NAME + ".part.json")).write_text(json.dumps(meta))
    assert download_file(listed, folder, client=HubClient()).read_bytes() == DATA
    assert _gets(served) == [] and _leftovers(folder) == [NAME]

    (folder / NAME).unlink()
    (folder / (NAME + ".part")).write_bytes(b"x" + DATA[1:])
    (folder / (NAME + ".part.json")).write_text(json.dumps(meta))
    with pytest.raises(DownloadError) as caught:
        download_file(listed, folder, client=HubClient())
    assert caught.value.kind == "checksum" and _leftovers(folder) == []


def test_server_ignoring_the_range_restarts_cleanly(served, tmp_path):
    folder = tmp_path / "models"
    served.cut_next(REPO, NAME, 700_000)
    with pytest.raises(DownloadError):
        download_file(_file(), folder, client=HubClient(), retry=NO_RETRY)
    served.ranges = False
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA
    assert _leftovers(folder) == [NAME]


def test_changed_etag_restarts_from_zero(served, tmp_path):
    folder = tmp_path / "models"
    served.cut_next(REPO, NAME, 700_000)
    with pytest.raises(DownloadError):
        download_file(_file(), folder, client=HubClient(), retry=NO_RETRY)
    sidecar = folder / (NAME + ".part.json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "etag": "f" * 64}))
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA
    assert _gets(served)[-2:] == ["bytes=700000-", None]


def test_corrupted_transfer_fails_sha256_and_is_deleted(served, tmp_path):
    folder = tmp_path / "models"
    served.corrupt_next(REPO, NAME)
    with pytest.raises(DownloadError) as caught:
        download_file(_file(), folder, client=HubClient())
    assert caught.value.kind == "checksum"
    assert str(caught.value).startswith(f"{NAME} failed its sha256 check and was deleted;")
    assert _leftovers(folder) == []
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA


def test_file_without_lfs_is_checked_by_size(hub, tmp_path):
    hub.add_repo("plain/tiny-GGUF", {"tiny-Q8_0.gguf": DATA[:4096]}, lfs=False)
    hub_file = _file("tiny-Q8_0.gguf", "plain/tiny-GGUF")
    assert hub_file.sha256 is None and hub_file.size == 4096
    assert download_file(hub_file, tmp_path / "models", client=HubClient()).read_bytes() == DATA[:4096]


def test_size_that_changed_on_the_hub_is_reported(served, tmp_path):
    listed = _file()
    stale = type(listed)(listed.repo_id, listed.filename, listed.size + 1, listed.sha256, listed.quant, listed.revision)
    with pytest.raises(DownloadError) as caught:
        download_file(stale, tmp_path / "models", client=HubClient())
    assert caught.value.kind == "changed" and "refresh" in str(caught.value)
    assert _leftovers(tmp_path / "models") == []


def test_gated_repo_needs_an_allowed_token(hub, tmp_path):
    repo = "google/codegemma-gated-GGUF"
    hub.add_repo(repo, {"codegemma-gated-Q8_0.gguf": DATA[:20_000]}, gated=True)
    hub_file = _file("codegemma-gated-Q8_0.gguf", repo)
    license_url = f"{hub.endpoint}/{repo}"

    with pytest.raises(DownloadError) as caught:
        download_file(hub_file, tmp_path / "models", client=HubClient())
    message = str(caught.value)
    assert caught.value.kind == "gated" and license_url in message and "\n" not in message
    assert "accept" in message and "token" in message and "gated" in message

    with pytest.raises(DownloadError) as caught:
        download_file(hub_file, tmp_path / "models", client=HubClient(token="hf_wrong"))
    assert caught.value.kind == "auth" and license_url in str(caught.value) and "refused" in str(caught.value)
    assert _leftovers(tmp_path / "models") == []

    hub.allow_token("hf_accepted")
    save_token("hf_accepted")
    path = download_file(hub_file, tmp_path / "models", client=HubClient())
    assert path.read_bytes() == DATA[:20_000]


def test_gated_errors_from_huggingface_hub_map_to_hub_error(hub):
    import huggingface_hub

    from app.core.hub.client import to_hub_error

    repo = "google/codegemma-gated-GGUF"
    hub.add_repo(repo, {"m-Q8_0.gguf": b"GGUF"}, gated=True)
    for token, kind in ((None, "gated"), ("hf_wrong", "auth")):
        with pytest.raises(huggingface_hub.errors.GatedRepoError) as caught:
            huggingface_hub.get_hf_file_metadata(
                huggingface_hub.hf_hub_url(repo, "m-Q8_0.gguf", endpoint=hub.endpoint), token=token or False
            )
        error = to_hub_error(caught.value, HubClient(token=token), repo)
        assert isinstance(error, HubError) and error.kind == kind
        assert f"{hub.endpoint}/{repo}" in str(error) and "\n" not in str(error)


def test_full_disk_is_refused_before_writing(served, tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "disk_free", lambda path: 1_200_000)
    with pytest.raises(DownloadError) as caught:
        download_file(_file(), tmp_path / "models", client=HubClient())
    assert caught.value.kind == "disk_full"
    assert str(caught.value).startswith(f"not enough disk space for {NAME}: needs ")
    assert "1.2 MB free in" in str(caught.value)
    assert _leftovers(tmp_path / "models") == [] and _gets(served) == []


def test_disk_filling_up_while_writing_keeps_the_part(served, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    real_write, calls = downloader._write, []

    def filling(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data)

    monkeypatch.setattr(downloader, "_write", filling)
    with pytest.raises(DownloadError) as caught:
        download_file(_file(), folder, client=HubClient())
    assert caught.value.kind == "disk_full" and "free some space" in str(caught.value)
    part = folder / (NAME + ".part")
    assert part.stat().st_size == calls[0] and (folder / (NAME + ".part.json")).exists()

    monkeypatch.setattr(downloader, "_write", real_write)
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA
    assert _gets(served)[-1] == f"bytes={calls[0]}-"


def _stop_after_first_bytes(action):
    """An on_progress callback that calls ``action`` once some bytes have arrived."""
    fired = threading.Event()

    def on_progress(progress):
        if progress.done > 0 and progress.state == "downloading" and not fired.is_set():
            fired.set()
            action()

    return on_progress


def test_pause_keeps_the_part_and_resume_finishes(served, tmp_path):
    folder = tmp_path / "models"
    served.throttle(4 * 1024 * 1024)
    control = DownloadControl()
    with pytest.raises(DownloadPaused) as caught:
        download_file(
            _file(), folder, client=HubClient(), on_progress=_stop_after_first_bytes(control.pause), control=control
        )
    assert caught.value.kind == "paused" and "paused at" in str(caught.value)
    done = (folder / (NAME + ".part")).stat().st_size
    assert 0 < done < SIZE and (folder / (NAME + ".part.json")).exists()

    served.throttle(None)
    path = download_file(_file(), folder, client=HubClient(), control=DownloadControl())
    assert path.read_bytes() == DATA
    assert _gets(served)[-1] == f"bytes={done}-"


def test_progress_is_throttled_with_speed_and_eta(served, tmp_path):
    served.throttle(2 * 1024 * 1024)
    seen = []
    started = time.monotonic()
    download_file(_file(), tmp_path / "models", client=HubClient(), on_progress=seen.append)
    elapsed = time.monotonic() - started
    downloading = [p for p in seen if p.state == "downloading"]
    assert len(downloading) <= elapsed * 10 + 2
    middle = [p for p in downloading if 0 < p.done < SIZE]
    assert middle and all(p.speed_bps > 0 and p.eta_s is not None and p.eta_s >= 0 for p in middle[1:])
    assert 0 < middle[-1].speed_bps < 8e6  # never above the server's 2 MiB/s by much; a busy machine is slower
    assert [p.done for p in seen] == sorted(p.done for p in seen)


def test_cancel_deletes_the_part(served, tmp_path):
    folder = tmp_path / "models"
    served.throttle(4 * 1024 * 1024)
    control = DownloadControl()
    with pytest.raises(DownloadCancelled) as caught:
        download_file(
            _file(), folder, client=HubClient(), control=control, on_progress=_stop_after_first_bytes(control.cancel)
        )
    assert caught.value.kind == "cancelled"
    assert _leftovers(folder) == []


def test_discard_partial_removes_part_and_sidecar(served, tmp_path):
    served.cut_next(REPO, NAME, 500_000)
    with pytest.raises(DownloadError):
        download_file(_file(), tmp_path / "models", client=HubClient(), retry=NO_RETRY)
    [partial] = partial_downloads(tmp_path / "models")
    discard_partial(partial)
    assert _leftovers(tmp_path / "models") == [] and partial_downloads(tmp_path / "models") == []


def test_stalled_connection_ends_with_a_read_timeout_after_its_tries(served, tmp_path, monkeypatch):
    monkeypatch.setattr(downloader, "READ_TIMEOUT_S", 0.5)
    served.throttle(10)  # one small piece, then silence
    seen = []
    with pytest.raises(DownloadError) as caught:
        download_file(
            _file(),
            tmp_path / "models",
            client=HubClient(),
            on_progress=seen.append,
            retry=RetryPolicy(attempts=2, first_wait_s=0.01, total_wait_s=0.01),
        )
    # Each try brings a piece, so only the cap on waiting ends it: one wait, two tries.
    assert caught.value.kind == ErrorKind.HTTP and "stalled at 0%" in str(caught.value)
    assert (tmp_path / "models" / (NAME + ".part.json")).exists()
    assert len(_gets(served)) == 2
    assert [p.note for p in seen if p.state == "retrying"] == ["the connection stalled, retrying (2/2)…"]


def test_offline_mode_and_unreachable_hub(served, tmp_path, monkeypatch):
    hub_file = _file()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError) as caught:
        download_file(hub_file, tmp_path / "models", client=HubClient())
    assert caught.value.kind == "offline"
    assert str(caught.value) == "the Hugging Face Hub can't be reached (offline mode is on)"
    monkeypatch.delenv("HF_HUB_OFFLINE")

    gone = HubServer().start()
    endpoint = gone.endpoint
    gone.stop()
    with pytest.raises(DownloadError) as caught:
        download_file(hub_file, tmp_path / "models", client=HubClient(endpoint=endpoint))
    assert caught.value.kind == "offline"
    assert str(caught.value).startswith("the Hugging Face Hub can't be reached: ")
    assert _leftovers(tmp_path / "models") == []


# -- riding out network trouble ---------------------------------------------------------


def test_dropped_connections_and_busy_answers_are_retried_from_the_part(served, tmp_path):
    folder = tmp_path / "models"
    served.fail_next(REPO, NAME, 503)
    served.fail_next(REPO, NAME, 429, retry_after="0")
    served.cut_next(REPO, NAME, 700_000, times=2)
    seen = []
    path = download_file(_file(), folder, client=HubClient(), on_progress=seen.append, retry=QUICK)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(DATA).hexdigest() == _file().sha256
    assert _leftovers(folder) == [NAME]
    assert _gets(served) == [None, None, None, "bytes=700000-", "bytes=1400000-"]
    assert served.bytes_sent[(REPO, NAME)] == SIZE  # every try continued where the last one stopped
    retrying = [p for p in seen if p.state == "retrying"]
    assert [p.note for p in retrying] == [
        "the Hub answered HTTP 503, retrying (2/5)…",
        "the Hub answered HTTP 429, retrying (3/5)…",  # no byte in between: the count goes on
        "the connection was lost, retrying (2/5)…",  # bytes came: it starts again
        "the connection was lost, retrying (2/5)…",
    ]
    assert [(p.attempt, p.attempts) for p in retrying] == [(2, 5), (3, 5), (2, 5), (2, 5)]
    assert [p.done for p in retrying] == [0, 0, 700_000, 1_400_000]
    assert seen[-1].state == "done"


def test_a_connection_that_keeps_dropping_ends_after_the_tries_and_keeps_the_part(served, tmp_path):
    folder = tmp_path / "models"
    served.cut_next(REPO, NAME, 0, times=3)
    with pytest.raises(DownloadError) as caught:
        download_file(_file(), folder, client=HubClient(), retry=RetryPolicy(attempts=3, first_wait_s=0.01))
    assert caught.value.kind == ErrorKind.HTTP
    assert str(caught.value) == f"the download of {NAME} was interrupted at 0%; it will resume from there"
    assert len(_gets(served)) == 3
    assert download_file(_file(), folder, client=HubClient()).read_bytes() == DATA


def test_answers_that_say_no_are_not_retried(served, tmp_path):
    listed = _file()
    gone = type(listed)(REPO, "gone-Q4_K_M.gguf", listed.size, listed.sha256, listed.quant, listed.revision)
    with pytest.raises(DownloadError) as caught:
        download_file(gone, tmp_path / "models", client=HubClient(), retry=QUICK)
    message = str(caught.value)
    assert caught.value.kind == ErrorKind.CHANGED and "\n" not in message
    assert message == f"gone-Q4_K_M.gguf is no longer in {REPO} on the Hub; refresh the file list"
    assert len(_gets(served, "gone-Q4_K_M.gguf")) == 1

    served.fail_next(REPO, NAME, 400, times=2)
    with pytest.raises(DownloadError) as caught:
        download_file(listed, tmp_path / "models", client=HubClient(), retry=QUICK)
    assert caught.value.kind == ErrorKind.HTTP
    assert str(caught.value) == f"the Hugging Face Hub answered HTTP 400 for {NAME}"
    assert len(_gets(served)) == 1


def test_cancel_during_the_wait_ends_it_at_once(served, tmp_path):
    folder = tmp_path / "models"
    served.fail_next(REPO, NAME, 503, retry_after="600")
    control, waiting, outcome = DownloadControl(), threading.Event(), []

    def on_progress(progress):
        if progress.state == "retrying":
            waiting.set()

    def run():
        try:
            download_file(
                _file(),
                folder,
                client=HubClient(),
                on_progress=on_progress,
                control=control,
                retry=RetryPolicy(first_wait_s=600, max_wait_s=600, total_wait_s=600),
            )
        except DownloadError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert waiting.wait(30)
    control.cancel()
    worker.join(60)  # the wait is ten minutes long: only the cancel can end it in time
    assert not worker.is_alive()
    assert isinstance(outcome[0], DownloadCancelled) and outcome[0].kind == ErrorKind.CANCELLED
    assert len(_gets(served)) == 1 and _leftovers(folder) == []


def test_an_unreachable_hub_is_not_retried(served, tmp_path):
    gone = HubServer().start()
    endpoint = gone.endpoint
    gone.stop()
    seen = []
    with pytest.raises(DownloadError) as caught:
        download_file(
            _file(), tmp_path / "models", client=HubClient(endpoint=endpoint), on_progress=seen.append, retry=QUICK
        )
    assert caught.value.kind == ErrorKind.OFFLINE
    assert [p for p in seen if p.state == "retrying"] == []
