"""How long the editor waits after a keystroke before asking for a completion."""

from __future__ import annotations

MIN_DEBOUNCE_MS = 40
MAX_DEBOUNCE_MS = 300
DEFAULT_DEBOUNCE_MS = 120


def adaptive_debounce_ms(latencies_ms: list[float]) -> int:
    """Return a debounce that follows the measured completion latency.

    A fast engine is asked sooner; a slow one waits longer, so that a burst of
    keystrokes does not start (and cancel) many evaluations.

    Args:
        latencies_ms: Recent request-to-suggestion times.

    Returns:
        Milliseconds, half the median latency, within 40 to 300 ms.
    """
    if not latencies_ms:
        return DEFAULT_DEBOUNCE_MS
    import statistics  # not at startup

    half = statistics.median(latencies_ms) / 2
    return int(min(MAX_DEBOUNCE_MS, max(MIN_DEBOUNCE_MS, half)))
