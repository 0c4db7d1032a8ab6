"""Turn what a soak child left behind into the soak's figures.

Reads the child's event log (``bench.soak_driver``), its stderr, the chat
store it wrote, and the process table. No Qt.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak_driver import HANDLER_REMOVED, start_ticks

THREAD_WORDS = re.compile(r"thread", re.IGNORECASE)
WARNINGS_LISTED = 5
LEAK_GRACE_S = 5.0


@dataclass
class ChildEvents:
    """Everything the child logged, by kind."""

    steps: int = 0
    actions: Counter = field(default_factory=Counter)
    sent: list[str] = field(default_factory=list)
    qt: list[dict] = field(default_factory=list)
    pids: dict[tuple[int, int | None], str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    driver_errors: list[str] = field(default_factory=list)
    flow_failures: list[str] = field(default_factory=list)
    job_failures: list[str] = field(default_factory=list)
    summary: dict | None = None
    store: str | None = None
    started: bool = False
    error: str | None = None
    last_step: dict | None = None
    max_stall_seen_ms: float | None = None
    killed_hosts: int = 0
    stalls: list[dict] = field(default_factory=list)  # ticks over 50 ms, with the step before them
    started_t: float | None = None


def read_events(path: Path) -> ChildEvents:
    """Parse the event log; a torn last line (the child died writing it) is ignored."""
    events = ChildEvents()
    if not path.exists():
        return events
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        _take(events, event)
    return events


def _take(events: ChildEvents, event: dict) -> None:
    if "action" in event:
        events.steps = max(events.steps, int(event["step"]))
        events.actions[event["action"]] += 1  # attempts; the summary has what was done
        events.last_step = {"step": event["step"], "action": event["action"]}
    elif "sent" in event:
        events.sent.append(event["sent"])
    elif "qt" in event:
        events.qt.append(event)
    elif "pid" in event:
        key, kind = (int(event["pid"]), event.get("start")), event.get("kind", "?")
        if events.pids.get(key) in (None, "spawned", "process"):  # a named kind wins over a generic one
            events.pids[key] = kind
    elif "exception" in event:
        events.exceptions.append(event["exception"])
    elif "driver_error" in event:
        events.driver_errors.append(event["driver_error"])
    elif "job_failed" in event:
        events.job_failures.append(f"{event['job_failed']}: {event.get('error')}")
    elif "flow" in event and "failed" in event:
        events.flow_failures.append(f"{event['flow']}: {event['failed']}")
    elif "summary" in event:
        events.summary = event["summary"]
    elif "store" in event:
        events.store = event["store"]
    elif "started" in event:
        events.started = True
        events.started_t = event.get("t")
    elif "stall_ms" in event:
        events.stalls.append(event)
    elif "error" in event:
        events.error = event["error"]
    elif "beat" in event:
        events.max_stall_seen_ms = event.get("max_stall_ms")
    elif "killed" in event:
        events.killed_hosts += 1


def worst_stalls(events: ChildEvents, count: int = 5) -> list[dict]:
    """The longest stalls: their GUI-thread CPU time, the step that ran last before them, when."""
    worst = sorted(events.stalls, key=lambda e: -e["stall_ms"])[:count]
    began = events.started_t or 0.0
    return [
        {
            "ms": e["stall_ms"],
            "cpu_ms": e.get("cpu_ms"),
            "after_step": e.get("after_step"),
            "after_action": e.get("after_action"),
            "at_s": round(e["t"] - began, 1),
        }
        for e in worst
    ]


def percentile(values: list[float], fraction: float) -> float | None:
    """The value below which ``fraction`` of ``values`` lie (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


def thread_warnings(events: ChildEvents, stderr_text: str) -> list[str]:
    """Qt messages that mention threads: from the handler, then from stderr after it was removed.

    A crash can come after the handler is gone (the interpreter shutting
    down), when Qt prints to stderr instead.
    """
    found = [e["text"] for e in events.qt if THREAD_WORDS.search(e.get("text", ""))]
    _, marker, after = stderr_text.partition(HANDLER_REMOVED)
    if marker:
        found += [line.strip() for line in after.splitlines() if THREAD_WORDS.search(line) and _looks_like_qt(line)]
    return found


def _looks_like_qt(line: str) -> bool:
    return bool(re.match(r"\s*(Q[A-Za-z]+(::\w+)?:|qt\.|QObject|QThread|QBasicTimer|QSocketNotifier)", line))


def lost_markers(store_path: str | os.PathLike[str] | None, markers: list[str]) -> tuple[list[str], str | None]:
    """Markers of sent messages that no stored message contains.

    Returns:
        The missing markers, and an error line when the store could not be
        read (then every marker counts as missing).
    """
    if not markers:
        return [], None
    if store_path is None or not Path(store_path).exists():
        return list(markers), "the chat store was not found"
    from app.core.chat.store import ChatStore, StoreError

    try:
        store = ChatStore(Path(store_path))
    except (StoreError, OSError) as exc:
        return list(markers), f"the chat store could not be opened: {exc}"
    try:
        texts = [
            m.content
            for c in store.conversations(include_deleted=True)
            for m in store.messages(c.id)
            if m.role == "user"
        ]
    finally:
        store.close()
    joined = "\n".join(texts)
    return [m for m in markers if m not in joined], None


def is_alive(pid: int, start: int | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (zombies do not count)."""
    if Path("/proc/self/stat").exists():
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        if fields[0] in ("Z", "X"):
            return False
        return start is None or start_ticks(pid) == start
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def leaked(pids: dict[tuple[int, int | None], str], grace_s: float = LEAK_GRACE_S) -> dict[int, str]:
    """The processes of ``pids`` still alive after ``grace_s`` seconds (pid -> kind)."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = {pid: kind for (pid, start), kind in pids.items() if is_alive(pid, start)}
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def kill_all(pids: dict[int, str], wait_s: float = 5.0) -> None:
    """SIGKILL every process listed (leftovers the soak found) and wait until they are gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait_s
    while any(is_alive(pid, None) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def exit_description(returncode: int | None) -> str:
    """``exit status N`` or ``killed by SIGNAME``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def stderr_tail(text: str, lines: int = 12) -> list[str]:
    """The last lines of the child's stderr, for a crash report."""
    return [line for line in text.strip().splitlines()[-lines:]]
