"""Startup benchmark: process start to the main window's first painted frame.

Every sample is a fresh ``python -m bench.startup_probe SIDE`` process. The
parent notes ``time.time()`` just before starting it; the probe prints the
wall-clock time at which its window's first frame, children included, has
been painted. Fimble's real main window
and a bare PySide6 window are sampled alternately in the same run, so that
machine noise hits both sides alike (which side goes first swaps every round),
and the medians are compared. Noise only ever adds time, so the fastest
samples are compared too (``ratio_min``).

Bytecode is cached, as in an installed app: the probes write and read it under
a private cache folder (``PYTHONPYCACHEPREFIX``), even where the environment
says not to write bytecode, and one uncounted probe of each side runs first to
fill it. Without that, every start would compile Fimble's modules from source.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.startup_probe import MARKER

PROBE = "bench.startup_probe"
SIDES = ("fimble", "baseline")
QUICK_RUNS = 3
FULL_RUNS = 15  # samples per side; the medians hold better on a noisy machine
TIMEOUT_S = 60.0
LEFTOVER_GRACE_S = 2.0
ROOT = Path(__file__).resolve().parents[1]


class ProbeError(RuntimeError):
    """A probe process failed, timed out, or printed no paint time."""


def run(quick: bool) -> dict:
    """Measure Fimble's startup time against a bare PySide6 window.

    Args:
        quick: Take 3 samples per side instead of 15.

    Returns:
        ``startup_ms`` and ``baseline_ms`` (medians), their ``ratio``, the
        ratio of the fastest samples (``ratio_min``), the number of ``runs``
        per side, every sample, the Qt ``platform``, and ``services_ms``: the
        median time Fimble's window then spends making its engines, chat
        store and services, on the GUI thread, just after the first frame.

    Raises:
        ProbeError: A probe failed or did not finish within 60 s.
    """
    runs = QUICK_RUNS if quick else FULL_RUNS
    cache = tempfile.mkdtemp(prefix="fimble-bench-pycache-")
    env = _probe_env(cache)
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    services: list[float] = []
    platforms: set[str] = set()
    try:
        for side in SIDES:
            sample(side, env)  # fills the bytecode cache; not counted
        for index in range(runs):
            for side in SIDES if index % 2 == 0 else SIDES[::-1]:
                elapsed_ms, platform, services_ms = sample(side, env)
                samples[side].append(round(elapsed_ms, 1))
                platforms.add(platform)
                if services_ms is not None:
                    services.append(services_ms)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    startup_ms = statistics.median(samples["fimble"])
    baseline_ms = statistics.median(samples["baseline"])
    return {
        "startup_ms": round(startup_ms, 1),
        "baseline_ms": round(baseline_ms, 1),
        "ratio": round(startup_ms / baseline_ms, 3),
        "ratio_min": round(min(samples["fimble"]) / min(samples["baseline"]), 3),
        "runs": runs,
        "startup_samples_ms": samples["fimble"],
        "baseline_samples_ms": samples["baseline"],
        "platform": ",".join(sorted(platforms)),
        "bytecode": "cached",
        "services_ms": round(statistics.median(services), 1),
    }


def _probe_env(cache: str) -> dict[str, str]:
    """Return the probes' environment: offscreen unless a display is chosen, bytecode cached in ``cache``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    if not env.get("QT_QPA_PLATFORM") and not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def sample(side: str, env: dict[str, str]) -> tuple[float, str, float | None]:
    """Start one probe and return its startup time, Qt platform and the time its services took.

    Args:
        side: ``"fimble"`` or ``"baseline"``.
        env: The environment for the probe; ``FIMBLE_HOME`` is replaced by
            a fresh temporary folder, removed afterwards.

    Returns:
        Milliseconds from just before the process was started to its
        window's first painted frame, the name of the Qt platform used, and
        the milliseconds Fimble's window took to make its services after
        that frame (None for the baseline).

    Raises:
        ProbeError: The probe failed, timed out, or printed no paint time.
    """
    home = tempfile.mkdtemp(prefix="fimble-bench-home-")
    command = [sys.executable, "-m", PROBE, side]
    child_env = {**env, "FIMBLE_HOME": home}
    posix = os.name == "posix"
    try:
        started = time.time()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=posix,
        )
        try:
            out, err = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill(process, posix)
            process.communicate()
            raise ProbeError(f"the {side} probe did not finish within {TIMEOUT_S:g} s; killed it") from None
        finally:
            if posix:
                _reap_group(process.pid, side)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    painted, platform, services_ms = _parse(out)
    if process.returncode != 0 or painted is None:
        tail = " | ".join(err.strip().splitlines()[-3:]) or "no output"
        raise ProbeError(f"the {side} probe failed (exit status {process.returncode}): {tail}")
    return (painted - started) * 1000.0, platform, services_ms


def _parse(out: str) -> tuple[float | None, str, float | None]:
    """Return the paint time, platform and services time from the probe's marker line."""
    for line in reversed(out.splitlines()):
        parts = line.split()
        if len(parts) == 4 and parts[0] == MARKER:
            return float(parts[1]), parts[2], None if parts[3] == "-" else float(parts[3])
    return None, "", None


def _kill(process: subprocess.Popen, posix: bool) -> None:
    """Kill the probe and, on POSIX, everything it started."""
    if posix:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        process.kill()


def _reap_group(pgid: int, side: str) -> None:
    """Kill what the probe left running in its process group, and warn."""
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                return
            print(f"bench: warning: the {side} probe left processes running; killed them", file=sys.stderr)
            return
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Say whether a process of group ``pgid`` still runs (zombies do not count)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
