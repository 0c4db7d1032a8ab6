"""Holding a job between tokens in the engine host, with real llama.cpp.

The assertions are about events (pieces that come or do not, how a job ends),
never about this machine's speed.
"""

from __future__ import annotations

import threading
import time

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.hold import MAX_PENDING_HOLDS, HoldGate
from app.engine.remote.engine import RemoteEngine

DEADLINE_S = 10.0  # generous: only a broken hold or release waits this long
QUIET_S = 0.5  # a held job sends nothing for this long
LONG = Sampling(max_tokens=100_000, temperature=0.8, ignore_eos=True)


class Reader:
    """Reads one job's stream on its own thread, as the app's workers do."""

    def __init__(self, stream) -> None:
        self.pieces: list[str] = []
        self.stats: GenerationStats | None = None
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        try:
            for item in stream:
                with self._lock:
                    if isinstance(item, GenerationStats):
                        self.stats = item
                    else:
                        self.pieces.append(item)
        except Exception as exc:  # end() raises it on the test's thread
            self.error = exc

    def count(self) -> int:
        with self._lock:
            return len(self.pieces)

    def wait_for(self, count: int) -> bool:
        """Wait until at least ``count`` pieces came; False after the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while self.count() < count and self._thread.is_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return self.count() >= count

    def settle(self) -> int:
        """Wait until no piece came for ``QUIET_S`` (the hold has landed); return the count."""
        deadline = time.monotonic() + DEADLINE_S
        seen = self.count()
        while time.monotonic() < deadline:
            time.sleep(QUIET_S)
            now = self.count()
            if now == seen:
                return now
            seen = now
        raise AssertionError("the held job kept sending pieces")

    def stays_quiet(self) -> bool:
        """Say whether no piece and no end came for another ``QUIET_S``."""
        before = self.count()
        time.sleep(QUIET_S)
        return self.count() == before and self.stats is None

    def end(self) -> GenerationStats:
        self._thread.join(DEADLINE_S)
        assert not self._thread.is_alive(), "the job did not end"
        if self.error is not None:
            raise self.error
        assert self.stats is not None
        return self.stats


def _running_then_held(host, tiny_models, job: int) -> tuple[Reader, int]:
    """A long job that has sent a few pieces, then held; the reader and the pieces it had."""
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    reader = Reader(host.generate(job, FimRequest("hello", allow_prefix_only=True, sampling=LONG)))
    assert reader.wait_for(3)
    host.hold(job, True)
    return reader, reader.settle()


def test_a_held_job_pauses_between_tokens_and_goes_on_when_released(host, tiny_models):
    reader, held_at = _running_then_held(host, tiny_models, 1)
    assert reader.stays_quiet()
    assert reader.count() == held_at
    host.hold(1, False)
    assert reader.wait_for(held_at + 3), "the released job sent no more pieces"
    host.cancel(1)
    assert reader.end().finish_reason == "cancelled"


def test_a_hold_sent_before_the_job_applies_when_it_starts(host, tiny_models):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    host.hold(2, True)
    reader = Reader(host.generate(2, FimRequest("hello", allow_prefix_only=True, sampling=LONG)))
    time.sleep(QUIET_S)
    assert reader.count() <= 1  # it stops at the first token boundary at the latest
    assert reader.stays_quiet()
    host.hold(2, False)
    assert reader.wait_for(3)
    host.cancel(2)
    assert reader.end().finish_reason == "cancelled"


def test_a_held_prompt_evaluation_waits_between_chunks(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    host.hold(3, True)
    reader = Reader(host.generate(3, FimRequest("import os\n" * 40, "", prompt_only=True)))
    assert reader.stays_quiet()  # no Done while held
    host.hold(3, False)
    stats = reader.end()
    assert stats.finish_reason == "prompt" and stats.evaluated_tokens == stats.prompt_tokens


def test_cancelling_a_held_job_ends_it(host, tiny_models):
    reader, held_at = _running_then_held(host, tiny_models, 4)
    host.cancel(4)
    stats = reader.end()
    assert stats.finish_reason == "cancelled"
    assert reader.count() <= held_at + 1  # at most the decoder's tail: no new token
    # The next job is not held: its hold ended with the cancelled job.
    after = Reader(host.generate(5, FimRequest("a", allow_prefix_only=True, sampling=Sampling(max_tokens=4))))
    assert after.end().finish_reason in ("length", "stop")


def test_held_time_does_not_count_toward_the_time_limit(host, tiny_models):
    host.load(str(tiny_models["generic"]), LoadParams(n_ctx=4096))
    # Without the cache reuse the first hold lands after the first token, when the time limit already runs.
    limited = Sampling(max_tokens=100_000, temperature=0.8, time_limit_s=0.3, ignore_eos=True, reuse_kv=False)
    host.hold(6, True)
    reader = Reader(host.generate(6, FimRequest("a", allow_prefix_only=True, sampling=limited)))
    time.sleep(1.0)  # well past the limit, all of it held
    assert reader.stats is None
    host.hold(6, False)
    stats = reader.end()
    assert stats.finish_reason == "time"
    # Had the held second counted, the job would have ended at the first token after the release.
    assert stats.generated_tokens > 3
    assert stats.total_ms >= 1000


def test_a_remote_engine_ignores_holds():
    assert RemoteEngine("chat", "http://127.0.0.1:9").hold(1, True) is None


def test_the_gate_forgets_finished_jobs_and_caps_holds_that_never_start():
    gate = HoldGate(threading.Event())
    gate.start(5000)
    gate.set(5000, True)
    for job in range(1000):
        gate.set(job, True)
    assert sum(gate.is_held(job) for job in range(1000)) == MAX_PENDING_HOLDS - 1
    assert gate.is_held(999) and gate.is_held(5000)  # the newest, and the running job's
    gate.finish()
    assert not gate.is_held(5000) and gate.pause() == 0.0  # nothing runs, nothing waits


def test_a_cancel_or_a_release_wakes_a_held_wait():
    cancel = threading.Event()
    gate = HoldGate(cancel)
    gate.start(1)
    gate.set(1, True)
    releaser = threading.Timer(0.2, gate.set, args=(1, False))
    releaser.start()
    assert gate.pause() > 0.0 and not gate.is_held(1)
    gate.set(1, True)

    def cancel_it() -> None:
        cancel.set()
        gate.wake()

    threading.Timer(0.2, cancel_it).start()
    assert gate.pause() > 0.0 and cancel.is_set()
    assert gate.pause() == 0.0  # a cancelled job is never held again


def test_holding_on_a_host_that_is_not_running_is_quietly_dropped():
    from app.engine.host_client import HostEngine

    engine = HostEngine("test")
    engine.hold(1, True)  # like cancel: no EngineCrashed from a hold
    assert not engine.is_alive()
