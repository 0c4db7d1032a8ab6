"""Pieces the benchmarks share: the raw llama-cpp-python baseline and event-loop waits."""

from __future__ import annotations

import time


def raw_decode_rate(llama, tokens: list[int], n: int, **sampling) -> float:
    """Tokens/s of a plain llama-cpp-python loop generating ``n`` tokens after ``tokens``.

    Args:
        llama: A loaded ``llama_cpp.Llama``.
        tokens: The prompt's token ids.
        n: Tokens to generate (end-of-generation is not checked, like ``ignore_eos``).
        **sampling: Passed to ``Llama.generate`` (greedy by default).

    Returns:
        (n - 1) / time from the first to the last token.
    """
    settings = {"temp": 0.0, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0, **sampling}
    llama.reset()
    first = last = None
    count = 0
    for _token in llama.generate(tokens, **settings):
        last = time.perf_counter()
        first = first or last
        count += 1
        if count >= n:
            break
    return (count - 1) / (last - first)


def wait_until(app, condition, timeout: float, tick_ms: int = 5) -> None:
    """Run Qt events until ``condition()`` is true, checking the time every ``tick_ms``.

    A slow tick (100 ms) suits a benchmark whose server shares this machine: a
    5 ms tick costs this process about 3% of a core, taken from the server.

    Raises:
        RuntimeError: ``timeout`` seconds passed first.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout
    # Sleep until an event comes (a signal from a worker thread, or this tick)
    # instead of polling: a polling loop takes CPU time from the engine host,
    # which then gives llama.cpp fewer threads (engine/cpu_share.py).
    tick = QTimer()
    tick.start(tick_ms)
    try:
        while not condition():
            if time.perf_counter() > deadline:
                raise RuntimeError("timed out waiting for the engine")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        tick.stop()
