"""``bench soak``: drive the whole window for minutes under CPU load; count crashes and losses.

The parent (this module) prepares a private ``FIMBLE_HOME``, tiny random-weight
models, a small project folder and a Hub look-alike on 127.0.0.1 serving a
throttled download. It starts ``load`` busy-loop processes and then the child,
``bench.soak_driver``, which runs Fimble's real main window offscreen and
drives it with seeded random actions (``bench.soak_actions``). The parent
watches the child: it must keep beating once a second and finish in time.
Whatever happens, the busy loops are killed at the end.

Afterwards the parent counts:

* ``crashes``: 1 if the child died by a signal, exited non-zero or stopped
  responding;
* ``qt_thread_warnings``: Qt messages mentioning threads;
* ``lost_messages``: chat messages the child sent that the store lacks;
* ``leaked_processes``: engine hosts, quantizers and other children of the
  child still alive a few seconds after it exited (they are then killed);
* ``max_stall_ms`` and ``p99_stall_ms``: how late a 5 ms GUI-thread timer fired.

To tell the app's own work from the load's, ``worst_stalls`` gives each long
stall's GUI-thread CPU time and the step before it, ``max_stall_cpu_ms`` the
most CPU the GUI thread used within one stall, and ``baseline_max_late_ms``
how late the idle parent's own 5 ms sleeps woke meanwhile. The event log
also holds every thread's Python stack, sampled during long stalls.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import soak_report as report

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MINUTES = 3.0
QUICK_MINUTES = 0.5
STARTUP_LIMIT_S = 240.0  # spawn, imports and both model loads, under load
HANG_S = 30.0  # no heartbeat for this long: the child stopped responding
CLOSE_LIMIT_S = 90.0  # from the end of the actions to the child's exit
ABORT_GRACE_S = 5.0  # after SIGABRT (faulthandler prints every thread's stack), SIGKILL
BASELINE_TICK_S = 0.005
DOWNLOAD_SECONDS = 12.0  # the throttle makes one download last about this long
HUB_REPO = "fimble-soak/tiny-soak-GGUF"
HUB_FILE = "tiny-soak-F16.gguf"
PROJECT_FILES = {
    "main.py": "import os\nimport sys\n\nfrom utils import area\n\n\ndef main(argv):\n"
    "    for name in argv:\n        print(name, area(2, 3))\n    return 0\n\n\n"
    'if __name__ == "__main__":\n    sys.exit(main(sys.argv[1:]))\n',
    "utils.py": '"""Helpers."""\n\n\ndef area(w, h):\n    return w * h\n\n\n'
    "def mean(values):\n    return sum(values) / len(values)\n" * 3,
    "app.js": "function add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2));\n",
    "notes.md": "# Notes\n\n- soak test project\n- several languages\n",
    "style.css": "body {\n  margin: 0;\n  font-family: sans-serif;\n}\n",
    "data.json": '{"name": "soak", "values": [1, 2, 3]}\n',
}


class SoakError(RuntimeError):
    """The soak could not be set up."""


def run(
    quick: bool,
    *,
    minutes: float | None = None,
    seed: int | None = None,
    load: int | None = None,
    keep: bool = False,
    fault: dict | None = None,
    hang_s: float = HANG_S,
) -> dict:
    """Run one soak and return its figures.

    Args:
        quick: Run for 0.5 minutes unless ``minutes`` is given.
        minutes: How long to drive the window (fractions allowed); default 3.
        seed: Seed of the action sequence; a random one (reported) by default.
        load: Busy-loop processes competing for the CPU; default the number of cores.
        keep: Keep the run's folder (event log, stderr, home) even when all went well.
        fault: For the harness's own tests: ``{"kind": "abort"|"hang"|"orphan", "at_step": n}``
            makes the child fail on purpose.
        hang_s: Seconds without a heartbeat after which the child counts as not responding.

    Returns:
        The figures described in the module docstring, plus ``ok`` (True when
        crashes, warnings, lost messages and leaked processes are all 0).

    Raises:
        SoakError: Setting up failed (the models or the Hub server).
        ValueError: ``minutes`` is not positive or ``load`` is negative.
    """
    minutes = float(minutes if minutes is not None else (QUICK_MINUTES if quick else DEFAULT_MINUTES))
    seed = int(seed if seed is not None else random.SystemRandom().randrange(1, 2**31))
    load = int(load if load is not None else (os.cpu_count() or 1))
    if minutes <= 0:
        raise ValueError("--minutes must be more than 0")
    if load < 0:
        raise ValueError("--load must be 0 or more")
    folder = Path(tempfile.mkdtemp(prefix="fimble-soak-"))
    outcome: dict | None = None
    try:
        outcome = _run_in(folder, minutes, seed, load, fault, hang_s)
    finally:
        if outcome is not None and outcome["ok"] and not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"bench: soak files kept in {folder}", file=sys.stderr)
            if outcome is not None:
                outcome["log_dir"] = str(folder)
    return outcome


def _run_in(folder: Path, minutes: float, seed: int, load: int, fault: dict | None, hang_s: float) -> dict:
    from tests.support.hub_server import HubServer

    config = _prepare(folder, minutes, seed, fault)
    hub = HubServer().start()
    busy: list[subprocess.Popen] = []
    child: subprocess.Popen | None = None
    watched: dict = {}
    # SIGTERM ends the soak like Ctrl+C: the busy loops and the child are still cleaned up.
    main_thread = threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt) if main_thread else None
    try:
        hub_size = Path(config["hub_source"]).stat().st_size
        hub.add_repo(HUB_REPO, {HUB_FILE: Path(config["hub_source"])})
        hub.throttle(max(16 * 1024, hub_size / DOWNLOAD_SECONDS))
        busy = [_busy_loop() for _ in range(load)]
        child = _start_child(folder, config, hub.endpoint)
        watched = _watch(child, Path(config["events"]), minutes, hang_s)
    except BaseException:
        if child is not None and child.poll() is None:
            _interrupt_child(child)
        raise
    finally:
        for process in busy:
            _kill_group(process)
        hub.stop()
        if main_thread:
            signal.signal(signal.SIGTERM, previous_term)
    return _figures(folder, config, child, watched, minutes, seed, load)


def _raise_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _prepare(folder: Path, minutes: float, seed: int, fault: dict | None) -> dict:
    """Write the models, the project and the child's config; return the config."""
    from app.core.paths import app_dirs
    from app.selftest.tiny_gguf import write_tiny_gguf

    home = folder / "home"
    models_dir = app_dirs(home).ensure().models
    tiny = folder / "models"
    try:
        models = {
            family: str(write_tiny_gguf(tiny / f"{family}.gguf", family))
            for family in ("generic", "codegemma", "codellama")
        }
        # Shaped like the full_precision_model test fixture: rows wide enough for k-quants.
        f16 = write_tiny_gguf(
            models_dir / "codegemma-tiny-f16.gguf",
            "codegemma",
            n_embd=256,
            n_ff=512,
            file_type="F16",
            name="codegemma-tiny",
        )
        hub_source = shutil.copy(f16, folder / HUB_FILE)
    except (OSError, ValueError) as exc:
        raise SoakError(f"the soak's models could not be written: {exc}") from exc
    project = folder / "project"
    project.mkdir()
    for name, text in PROJECT_FILES.items():
        (project / name).write_text(text, encoding="utf-8")
    config = {
        "seed": seed,
        "minutes": minutes,
        "events": str(folder / "events.jsonl"),
        "project": str(project),
        "models": models,
        "f16": str(f16),
        "hub_source": str(hub_source),
        "hub_query": "tiny-soak",
        "hub_folder": HUB_REPO.replace("/", "__"),
        "hub_file": HUB_FILE,
        "home": str(home),
    }
    if fault:
        config["fault"] = fault
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return config


def _busy_loop() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _start_child(folder: Path, config: dict, endpoint: str) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("HF_TOKEN", "HF_HUB_OFFLINE", "HUGGING_FACE_HUB_TOKEN")
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        FIMBLE_HOME=config["home"],
        HF_ENDPOINT=endpoint,
        HF_HOME=str(folder / "hf-home"),
        PYTHONFAULTHANDLER="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    with open(folder / "child.stdout", "wb") as out, open(folder / "child.stderr", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "bench.soak_driver", str(folder / "config.json")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _watch(child: subprocess.Popen, events: Path, minutes: float, hang_s: float) -> dict:
    """Wait for the child; stop it if it stops beating or overruns. Return how it ended.

    Meanwhile the parent, idle apart from this, sleeps 5 ms at a time and
    records how late it wakes: what the CPU load alone does to a thread
    that wants to run (``baseline_late_ms``), to set the child's stalls against.
    """
    began = time.monotonic()
    offset, started_at, last_beat, last_look = 0, None, None, 0.0
    late: list[float] = []
    while child.poll() is None:
        before = time.perf_counter()
        time.sleep(BASELINE_TICK_S)
        if started_at is not None:
            late.append(max(0.0, (time.perf_counter() - before - BASELINE_TICK_S) * 1000))
        now = time.monotonic()
        if now - last_look < 0.2:
            continue
        last_look = now
        offset, lines = _new_lines(events, offset)
        for line in lines:
            if '"beat"' in line:
                last_beat = now
            if '"started"' in line and started_at is None:
                # the first beat may come after a fault stopped the GUI thread
                started_at = last_beat = last_beat or now
        hung = None
        if started_at is None and now - began > STARTUP_LIMIT_S:
            hung = f"the window did not start within {STARTUP_LIMIT_S:.0f} s"
        elif last_beat is not None and now - last_beat > hang_s:
            hung = f"no heartbeat for {hang_s:.0f} s (the GUI thread stopped responding)"
        elif started_at is not None and now - started_at > minutes * 60 + CLOSE_LIMIT_S:
            hung = f"still running {CLOSE_LIMIT_S:.0f} s after its last action"
        if hung:
            return {"hung": hung, "baseline_late_ms": late, **_stop_child(child)}
    return {"baseline_late_ms": late}


def _new_lines(path: Path, offset: int) -> tuple[int, list[str]]:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return offset, []
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next look
    return offset + end, data[:end].decode(errors="replace").splitlines()


def _stop_child(child: subprocess.Popen) -> dict:
    """SIGABRT the child (its faulthandler dumps every thread), then SIGKILL it if needed."""
    for sig, grace in ((signal.SIGABRT, ABORT_GRACE_S), (signal.SIGKILL, ABORT_GRACE_S)):
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            child.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    return {"stopped_by_parent": True}


def _interrupt_child(child: subprocess.Popen) -> None:
    """End the child and everything in its process group (the soak was interrupted)."""
    try:
        child.terminate()
        child.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    _kill_group(child)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass


def _figures(
    folder: Path, config: dict, child: subprocess.Popen, watched: dict, minutes: float, seed: int, load: int
) -> dict:
    events = report.read_events(Path(config["events"]))
    stderr = (folder / "child.stderr").read_text(encoding="utf-8", errors="replace")
    summary = events.summary or {}
    returncode = child.returncode
    crashed = bool(watched.get("hung")) or returncode != 0
    warnings = report.thread_warnings(events, stderr)
    lost, store_error = report.lost_markers(events.store, events.sent)
    leftovers = report.leaked(events.pids)
    report.kill_all(leftovers)
    result = {
        "steps": events.steps,
        "crashes": int(crashed),
        "qt_thread_warnings": len(warnings),
        "lost_messages": len(lost),
        "leaked_processes": len(leftovers),
        "max_stall_ms": summary.get("max_stall_ms", events.max_stall_seen_ms),
        "p99_stall_ms": summary.get("p99_stall_ms"),
        "worst_stalls": report.worst_stalls(events),
        "stalls_over_100ms": sum(1 for e in events.stalls if e["stall_ms"] > 100),
        "max_stall_cpu_ms": max((e.get("cpu_ms") or 0.0 for e in events.stalls), default=None),
        "baseline_max_late_ms": report.percentile(watched.get("baseline_late_ms", []), 1.0),
        "baseline_p99_late_ms": report.percentile(watched.get("baseline_late_ms", []), 0.99),
        "seed": seed,
        "minutes": minutes,
        "load": load,
        "actions": summary.get("actions") or dict(events.actions),
        "skipped": summary.get("skipped", {}),
        "outcomes": summary.get("outcomes", {}),
        "sent_messages": len(events.sent),
        "warnings": warnings[: report.WARNINGS_LISTED],
        "qt_messages": len(events.qt),
        "processes_seen": dict(sorted(_count_kinds(events.pids).items())),
        "killed_hosts": events.killed_hosts,
        "close_ms": summary.get("close_ms"),
        "exceptions": len(events.exceptions),
        "child_exit": report.exit_description(returncode),
    }
    if crashed:
        result["crash"] = watched.get("hung") or report.exit_description(returncode)
        result["last_step"] = events.last_step
        result["stderr_tail"] = report.stderr_tail(stderr)
    if lost:
        result["lost"] = lost[:10]
    if store_error:
        result["store_error"] = store_error
    if leftovers:
        result["leaked"] = {str(pid): kind for pid, kind in leftovers.items()}
    if events.job_failures:
        result["job_failures"] = events.job_failures[:5]
    if events.exceptions:
        result["exception_tails"] = [text.strip().splitlines()[-1] for text in events.exceptions[:5]]
    failures = events.driver_errors + events.flow_failures
    if failures or summary.get("driver_error_count"):
        result["driver_errors"] = [f.strip().splitlines()[-1] for f in failures[:5]]
    error = events.error or summary.get("error")
    if error:
        result["error"] = error
    result["ok"] = not (crashed or warnings or lost or leftovers or error)
    return result


def _count_kinds(pids: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in pids.values():
        counts[kind] = counts.get(kind, 0) + 1
    return counts
