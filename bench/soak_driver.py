"""The soak's child process: Fimble's real window, driven by seeded random actions.

Run as ``python -m bench.soak_driver CONFIG.json`` (``bench.soak`` starts it).
The window is made by ``app.ui.app.run_gui``, the same start the app uses;
a timer on the GUI thread then finds it and drives it (``bench.soak_session``, ``bench.soak_actions``).

Everything worth knowing is appended to an event log, one JSON object a
line, flushed at once, so the parent can read it even after a crash:

* ``{"step": i, "action": name, ...}`` for every step;
* ``{"qt": level, "text": ...}`` for every Qt message (from
  ``qInstallMessageHandler``);
* ``{"pid": n, "start": ticks, "kind": ...}`` for every engine host and
  other child process seen;
* ``{"sent": marker}`` for every chat message the store accepted;
* ``{"beat": t, ...}`` once a second from the GUI thread;
* ``{"summary": {...}}`` once the window has closed.

Engine hosts and the quantizer are started with ``spawn``, which imports
this module again in each of them: only the standard library is imported at
module level, and nothing runs unless this is ``__main__``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

PROC = Path("/proc")
PID_SCAN_S = 0.5
HANDLER_REMOVED = "soak: Qt message handler removed"


class EventLog:
    """Appends JSON lines to a file from any thread, flushing each one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the process

    def write(self, **event) -> None:
        """Append one event, stamped with the wall-clock time."""
        event.setdefault("t", round(time.time(), 3))
        line = json.dumps(event, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        """Stop writing."""
        with self._lock:
            self._file.close()


class QtMessages:
    """Records every Qt message in the event log, chaining to an earlier handler."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.count = 0
        self._previous = None
        self._inside = threading.local()

    def install(self) -> None:
        """Install (or re-install) the handler; a handler the app set meanwhile still runs."""
        from PySide6.QtCore import qInstallMessageHandler

        previous = qInstallMessageHandler(self._handle)
        if previous is not None and getattr(previous, "__self__", None) is not self:
            self._previous = previous

    def remove(self) -> None:
        """Give the messages back to Qt's default handler."""
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(None)
        print(HANDLER_REMOVED, file=sys.stderr, flush=True)

    def _handle(self, mode, context, message: str) -> None:
        if getattr(self._inside, "active", False):
            return  # reached again through a handler that chains back to this one
        self._inside.active = True
        try:
            self._record(mode, context, message)
        finally:
            self._inside.active = False

    def _record(self, mode, context, message: str) -> None:
        self.count += 1
        level = getattr(mode, "name", str(mode))
        self.log.write(qt=level, text=message, thread=threading.current_thread().name)
        if self._previous is not None:
            try:
                self._previous(mode, context, message)
            except Exception:  # noqa: BLE001 - the app's handler must not end the soak
                pass


def start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]) if len(fields) > 19 else None


def process_kind(pid: int) -> str:
    """A short name for a child process, from its command line."""
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "resource_tracker" in command:
        return "resource-tracker"
    if "spawn_main" in command:
        return "spawned"
    return "process"


def direct_children() -> set[int]:
    """Pids of this process's children, from every thread's ``children`` file (Linux)."""
    found: set[int] = set()
    for task in (PROC / "self" / "task").glob("*"):
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


class PidWatcher:
    """A plain Python thread that logs every child process it sees; it never touches Qt."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.seen: set[tuple[int, int | None, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-pid-watcher", daemon=True)

    def start(self) -> None:
        """Scan every half second until ``stop``."""
        if (PROC / "self" / "task").is_dir():
            self._thread.start()

    def stop(self) -> list[int]:
        """End the thread, scan one last time, and return the children alive now."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        return self.scan()

    def note(self, pid: int | None, kind: str) -> None:
        """Log ``pid`` once per kind it is seen as (any thread)."""
        if not pid:
            return
        start = start_ticks(pid)
        with self._lock:
            if (pid, start, kind) in self.seen:
                return
            self.seen.add((pid, start, kind))
        self.log.write(pid=pid, start=start, kind=kind)

    def scan(self) -> list[int]:
        """Log the children not seen before; return every child alive now."""
        children = sorted(direct_children())
        for pid in children:
            self.note(pid, process_kind(pid))
        return children

    def _run(self) -> None:
        while not self._stop.wait(PID_SCAN_S):
            self.scan()


def _install_exception_hooks(log: EventLog) -> None:
    """Log uncaught exceptions of slots and threads, then report them as usual."""
    default_hook = sys.excepthook

    def hook(kind, value, tb) -> None:
        log.write(
            exception="".join(traceback.format_exception(kind, value, tb))[-4000:],
            thread=threading.current_thread().name,
        )
        default_hook(kind, value, tb)

    def thread_hook(args) -> None:
        log.write(
            exception="".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))[-4000:],
            thread=getattr(args.thread, "name", "?"),
        )
        sys.__stderr__.write(f"soak: exception in thread {getattr(args.thread, 'name', '?')}\n")

    sys.excepthook = hook
    threading.excepthook = thread_hook


def _write_settings(config: dict) -> None:
    """Point both roles at the tiny models, with small contexts, in the private home."""
    from app.core.paths import app_dirs
    from app.core.settings import Settings, save_settings

    models = config["models"]
    settings = Settings(
        chat_model=models["generic"],
        completion_model=models["codellama"],
        chat_params={"n_ctx": 2048},
        completion_params={"n_ctx": 1024},
    )
    save_settings(app_dirs().ensure().config, settings)


def main(argv: list[str] | None = None) -> int:
    """Run the soak's window; return 0 once it has been driven and closed."""
    import faulthandler
    import gc

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("soak_driver: error: expected the path of a config file", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    faulthandler.enable()
    log = EventLog(config["events"])
    _install_exception_hooks(log)
    messages = QtMessages(log)
    messages.install()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.paths import app_dirs
    from app.ui.app import run_gui
    from bench.soak_session import SoakSession

    app = QApplication([sys.argv[0]])
    _write_settings(config)
    log.write(store=str(app_dirs().data / "chats.sqlite3"), child=os.getpid())
    pids = PidWatcher(log)
    driver = SoakSession(app, config, log, messages, pids)
    QTimer.singleShot(0, driver.attach)  # runs inside run_gui's event loop, once the window exists
    pids.start()
    status = run_gui([sys.argv[0]])
    driver.finished_event_loop(status)
    gc.collect()  # objects in cycles go now, on this thread, while messages are still recorded
    children = pids.stop()
    summary = driver.summary()
    summary.update(event_loop_status=status, qt_messages=messages.count, children_at_exit=children)
    log.write(summary=summary)
    messages.remove()
    log.close()
    return 0 if driver.ran else 3


if __name__ == "__main__":
    sys.exit(main())
