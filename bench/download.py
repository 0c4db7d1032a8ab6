"""``bench download``: Fimble's resumable downloader vs plain ``hf_hub_download``.

A random file is served by a local Hub look-alike (``tests.support.hub_server``) on
127.0.0.1. Rounds alternate which side goes first: ``hf_hub_download`` into a
fresh cache folder, and ``download_file`` (which also computes and checks the
sha256). Then a resume run: the server cuts the connection at half the file,
``download_file`` stops with an interrupted error, and a second call finishes
it; the bytes the server sent beyond the file's size are the resume overhead.
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = "fimble-bench/random-GGUF"
FILENAME = "random-Q4_K_M.gguf"
DEFAULT_SIZE_MB = 300
QUICK_SIZE_MB = 100


def _write_random(path: Path, size: int) -> None:
    block = 4 * 1024 * 1024
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            handle.write(os.urandom(min(block, left)))
            left -= block


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(quick: bool, size_mb: int | None = None) -> dict:
    """Measure both downloaders and a resume; return rates, their ratio and the resume overhead.

    Args:
        quick: Fewer rounds and a smaller file (unless ``size_mb`` is given).
        size_mb: File size in MiB (default 300, 100 with ``quick``).
    """
    import huggingface_hub
    from huggingface_hub.utils import disable_progress_bars

    from app.core.hub.client import HubClient
    from app.core.hub.downloader import DownloadError, download_file
    from app.core.hub.retry import NO_RETRY
    from tests.support.hub_server import HubServer

    size_mb = size_mb or (QUICK_SIZE_MB if quick else DEFAULT_SIZE_MB)
    rounds = 2 if quick else 4
    size = size_mb * 1024 * 1024
    disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="fimble-bench-") as folder, HubServer() as hub:
        root = Path(folder)
        source = root / "source.gguf"
        _write_random(source, size)
        hub.add_repo(REPO, {FILENAME: source})
        client = HubClient(endpoint=hub.endpoint, token="")
        hub_file = client.repo(REPO).files[0]

        def hf_round(index: int) -> None:
            cache = root / f"hf-cache-{index}"
            path = huggingface_hub.hf_hub_download(REPO, FILENAME, endpoint=hub.endpoint, cache_dir=cache, token=False)
            if os.path.getsize(path) != size:
                raise RuntimeError("hf_hub_download returned a file of the wrong size")
            shutil.rmtree(cache)

        def fimble_round(index: int) -> None:
            out = root / f"fimble-{index}"
            download_file(hub_file, out, client=client)
            shutil.rmtree(out)

        hf_round(-1)  # warm both paths (imports, connection pools, page cache)
        fimble_round(-1)
        hf_times, fimble_times = [], []
        for index in range(rounds):
            if index % 2:
                fimble_times.append(_timed(functools.partial(fimble_round, index)))
                hf_times.append(_timed(functools.partial(hf_round, index)))
            else:
                hf_times.append(_timed(functools.partial(hf_round, index)))
                fimble_times.append(_timed(functools.partial(fimble_round, index)))

        key = (REPO, FILENAME)
        before = hub.bytes_sent[key]
        resume_dir = root / "resume"
        hub.cut_next(REPO, FILENAME, size // 2)
        try:
            download_file(hub_file, resume_dir, client=client, retry=NO_RETRY)
            raise RuntimeError("the cut transfer finished instead of stopping")
        except DownloadError as exc:
            if exc.kind != "http":
                raise RuntimeError(f"unexpected error on the cut transfer: {exc}") from None
        resumed = download_file(hub_file, resume_dir, client=client)
        if resumed.stat().st_size != size:
            raise RuntimeError("the resumed download has the wrong size")
        resume_sent = hub.bytes_sent[key] - before

    mb = size / 1e6
    hf_rate = mb / statistics.median(hf_times)
    fimble_rate = mb / statistics.median(fimble_times)
    return {
        "throughput_ratio": round(fimble_rate / hf_rate, 3),
        "fimble_mb_per_s": round(fimble_rate, 1),
        "hf_hub_mb_per_s": round(hf_rate, 1),
        "fimble_best_mb_per_s": round(mb / min(fimble_times), 1),
        "hf_hub_best_mb_per_s": round(mb / min(hf_times), 1),
        "resume_extra_bytes_fraction": round((resume_sent - size) / size, 6),
        "resume_bytes_sent": resume_sent,
        "size_bytes": size,
        "rounds": rounds,
        "sha256_verified": True,
    }
