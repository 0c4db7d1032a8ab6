"""How many CPU threads llama.cpp may use now, given what else keeps the machine busy.

llama.cpp's CPU threads meet at a spinning barrier after every operation of
the graph. When other programs keep cores busy, a thread that reaches the
barrier spins away its time slice while the thread it waits for is not
scheduled, and a step that takes a millisecond on an idle machine takes tens.
Measured with the starter model on a 2-core machine with two busy programs:
generating with 2 threads ran at about 1 token/s, with 1 thread at about 20.

So the host watches the CPU time that the rest of the machine uses (all
processes but itself) and gives llama.cpp only the cores left free, never
fewer than one and never more than it was loaded with.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

SAMPLE_EVERY_S = 0.5
FIRST_SAMPLE_S = 0.1
# Fields of psutil.cpu_times() that are not busy time (guest time is already counted in user time).
_NOT_BUSY = frozenset({"idle", "iowait", "guest", "guest_nice"})


def free_cores(cores: int, machine_busy_s: float, own_busy_s: float, elapsed_s: float) -> float:
    """Cores that programs other than this one left idle over an interval.

    Args:
        cores: Logical cores of the machine.
        machine_busy_s: CPU seconds the whole machine was busy in the interval (all cores).
        own_busy_s: CPU seconds this process used in the interval.
        elapsed_s: The interval's length in wall-clock seconds.
    """
    if elapsed_s <= 0:
        return float(cores)
    others = max(0.0, machine_busy_s - own_busy_s) / elapsed_s
    return max(0.0, cores - others)


def threads_for(wanted: int, free: float) -> int:
    """The threads to run with: ``wanted``, cut to the free cores, at least one."""
    return max(1, min(wanted, int(free + 0.25)))


class ThreadFit:
    """llama.cpp's (generation, prompt) threads for one context, cut to the free cores when asked."""

    def __init__(self, generation: int, prompt: int) -> None:
        self.loaded = (generation, prompt)
        self.now = self.loaded

    def fit(self, ctx: object) -> int:
        """Set the context's threads for the free cores now; return the prompt threads."""
        free = shared().free()
        wanted = (threads_for(self.loaded[0], free), threads_for(self.loaded[1], free))
        if wanted != self.now:
            import llama_cpp

            llama_cpp.llama_set_n_threads(ctx, *wanted)
            self.now = wanted
        return wanted[1]


@dataclass
class _Sample:
    at: float
    machine_busy: float
    own_busy: float


class CpuShare:
    """Samples the machine's CPU use on a daemon thread; ``free()`` is the latest estimate.

    Args:
        interval_s: Time between samples; the estimate covers the last interval.
    """

    def __init__(self, interval_s: float = SAMPLE_EVERY_S) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self.cores = psutil.cpu_count() or 1
        self._interval = interval_s
        self._free = float(self.cores)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last = self._sample()
        # A first figure now, over a short interval: a request right after the load must not
        # run with every thread on a machine that is already busy.
        time.sleep(FIRST_SAMPLE_S)
        self.update()
        threading.Thread(target=self._run, name="fimble-cpu-share", daemon=True).start()

    def _sample(self) -> _Sample:
        times = self._psutil.cpu_times()._asdict()
        busy = sum(seconds for name, seconds in times.items() if name not in _NOT_BUSY)
        own = self._process.cpu_times()
        return _Sample(time.monotonic(), busy, own.user + own.system)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.update()

    def update(self) -> float:
        """Take a sample now and return the free cores since the last one."""
        try:
            now = self._sample()
        except (OSError, RuntimeError):  # a sandbox without /proc: assume an idle machine
            return self.free()
        last, self._last = self._last, now
        free = free_cores(
            self.cores, now.machine_busy - last.machine_busy, now.own_busy - last.own_busy, now.at - last.at
        )
        with self._lock:
            self._free = free
        return free

    def free(self) -> float:
        """Free cores over the last sampling interval."""
        with self._lock:
            return self._free

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()


_shared: CpuShare | None = None
_shared_lock = threading.Lock()


def shared() -> CpuShare:
    """The process's one sampler, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CpuShare()
        return _shared
