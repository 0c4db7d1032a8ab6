"""The soak's session: finds the window, steps through seeded random actions, keeps the score.

Every step draws an action name and a seed for its details from
``random.Random(seed)``, so a seed always gives the same list of attempts
(the actions themselves are in ``bench.soak_actions``). Steps come from a
100 ms timer on the GUI thread; a 5 ms timer measures stalls; a 1 s timer
writes a heartbeat the parent watches. Nothing here waits: multi-step
actions are flows (``bench.soak_flows``) that go one step further on each
tick once their condition holds. After the soak's minutes the window is
closed, which runs its closeEvent as a user's close would.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot

from bench.soak_actions import ACTIONS, SoakActions
from bench.soak_flows import Flow, FlowFailed, Skip
from bench.soak_stalls import StallMeter, StallSampler

STEP_MS = 100
BEAT_MS = 1000
WARMUP_S = 3.0
STARTUP_TIMEOUT_S = 180.0
CLOSE_FALLBACK_MS = 15_000


class SoakSession(QObject, SoakActions):
    """Lives on the GUI thread; every slot runs there."""

    def __init__(self, app, config: dict, log, messages, pids) -> None:
        super().__init__()
        self.app, self.config, self.log, self.messages, self.pids = app, config, log, messages, pids
        self.seed = int(config["seed"])
        self.rng = random.Random(self.seed)
        self.duration_s = float(config["minutes"]) * 60.0
        self.project = sorted(Path(config["project"]).iterdir())
        self.models = config["models"]
        self.f16 = Path(config["f16"])
        self.window = None
        self.ran = False
        self.error: str | None = None
        self.steps = 0
        self.sent = 0
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.flow_timeouts: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # answers, host restarts and jobs, as the window reported them
        self.errors: list[str] = []
        self.flows: list[Flow] = []
        self.close_ms: float | None = None
        self._started = 0.0
        self._attach_began = 0.0
        self._closing = False
        self.stalls = StallMeter(self, on_stall=self._on_stall)
        self.sampler = StallSampler(self.stalls, log)
        self.slowest: list[tuple[float, int, str, float]] = []  # (ms, step, action, cpu ms) of the slowest
        self._last_step: tuple[int, str] = (0, "")
        self._step_timer = QTimer(self)
        self._step_timer.setInterval(STEP_MS)
        self._step_timer.timeout.connect(self._tick)
        self._beat_timer = QTimer(self)
        self._beat_timer.setInterval(BEAT_MS)
        self._beat_timer.timeout.connect(self._beat)
        self._wait_timer = QTimer(self)
        self._wait_timer.setInterval(200)
        self._wait_timer.timeout.connect(self._wait_for_models)

    # ---- start and end ---------------------------------------------------------------

    @Slot()
    def attach(self) -> None:
        """Find the main window run_gui made, answer its dialogs, and wait for both models."""
        from app.ui.main_window import MainWindow

        # run_gui's own Qt message log chains to the handler installed before it,
        # so both already run; installing again would make the two call each other.
        windows = [w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)]
        self._beat_timer.start()
        if not windows:
            self._give_up("run_gui made no main window")
            return
        self.window = windows[0]
        self._listen(self.window)
        tabs = self.window.editor_pane.tabs
        # Closing a modified tab asks; a file is saved, an untitled buffer discarded.
        tabs.ask_save = lambda tab: "save" if tab.path else "discard"
        self._attach_began = time.monotonic()
        self._wait_timer.start()

    def _listen(self, window) -> None:
        """Count what the window reports; worker signals reach these bound slots on this thread."""
        window.chat_service.answer_finished.connect(self._on_answer_finished)
        window.chat_service.answer_failed.connect(self._on_answer_failed)
        for controller in (window.chat_engine, window.completion_engine):
            controller.worker.host_crashed.connect(self._on_host_crashed)

    @Slot(int, object)
    def _on_answer_finished(self, _job: int, stats) -> None:
        self.outcomes[f"answer_{stats.finish_reason}"] += 1

    @Slot(int, str)
    def _on_answer_failed(self, _job: int, _message: str) -> None:
        self.outcomes["answer_failed"] += 1

    @Slot(str)
    def _on_host_crashed(self, _message: str) -> None:
        self.outcomes["host_crash_reported"] += 1

    @Slot(object)
    def _on_job_finished(self, job) -> None:
        self.outcomes[f"{job.kind}_{job.state}"] += 1
        if job.state == "failed":
            self.log.write(job_failed=job.title, error=job.error)

    @Slot()
    def _wait_for_models(self) -> None:
        window = self.window
        self._note_engines()
        if set(window.loaded_models) >= {"chat", "completion"}:
            self._wait_timer.stop()
            self.log.write(started=True, after_s=round(time.monotonic() - self._attach_began, 2))
            self.ran = True
            self._started = time.monotonic()
            self.stalls.start(after_s=WARMUP_S)
            self.sampler.start()
            self._step_timer.start()
        elif time.monotonic() - self._attach_began > STARTUP_TIMEOUT_S:
            self._give_up(
                f"the models did not load within {STARTUP_TIMEOUT_S:.0f} s: "
                f"{window.chat_model_label.text()} / {window.completion_model_label.text()}"
            )

    def _give_up(self, reason: str) -> None:
        self._wait_timer.stop()
        self.error = reason
        self.log.write(error=reason)
        self._close_window()

    def _close_window(self) -> None:
        self._closing = True
        self._step_timer.stop()
        self.stalls.stop()
        self.sampler.stop()
        self.flows.clear()
        if self.window is None:
            self.app.quit()
            return
        began = time.perf_counter()
        self.window.close()  # closeEvent: tabs, chat, model jobs, engines, store
        self.close_ms = round((time.perf_counter() - began) * 1000, 1)
        self.log.write(closed=not self.window.isVisible(), close_ms=self.close_ms)
        if self.window.isVisible():
            self.errors.append("the window refused to close")
            QTimer.singleShot(CLOSE_FALLBACK_MS, self.app.quit)

    def finished_event_loop(self, status: int) -> None:
        """Called once run_gui has returned."""
        self._beat_timer.stop()
        self.window = None

    def summary(self) -> dict:
        """What the driver saw, for the parent's report."""
        stalls = self.stalls.figures()
        slowest = [
            {"ms": ms, "cpu_ms": cpu, "step": step, "action": name} for ms, step, name, cpu in reversed(self.slowest)
        ]
        return {
            "steps": self.steps,
            "actions": dict(sorted(self.counts.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "sent": self.sent,
            "flow_timeouts": dict(self.flow_timeouts),
            "outcomes": dict(sorted(self.outcomes.items())),
            "driver_errors": self.errors[:5],
            "driver_error_count": len(self.errors),
            "slowest_steps": slowest,
            "close_ms": self.close_ms,
            "error": self.error,
            **stalls,
        }

    @Slot()
    def _beat(self) -> None:
        self.log.write(beat=round(time.monotonic(), 3), steps=self.steps, max_stall_ms=round(self.stalls.max_ms, 1))

    # ---- steps ---------------------------------------------------------------------

    @Slot()
    def _tick(self) -> None:
        if self._closing:
            return
        if time.monotonic() - self._started >= self.duration_s:
            self._close_window()
            return
        self._advance_flows()
        names, weights = zip(*ACTIONS.items(), strict=True)
        name = self.rng.choices(names, weights)[0]
        detail_rng = random.Random(self.rng.getrandbits(32))
        self.steps += 1
        index = self.steps
        self.log.write(step=index, action=name)
        self._last_step = (index, name)
        self._fault(index)
        began, began_cpu = time.perf_counter(), time.thread_time()
        try:
            done = getattr(self, f"act_{name}")(detail_rng) or name
        except Skip as skip:
            self.skipped[name] += 1
            self.log.write(step=index, skipped=str(skip))
            return
        except Exception as exc:  # noqa: BLE001 - logged and counted; the soak goes on
            self._driver_error(f"step {index} {name}", exc)
            return
        finally:
            self._note_duration(
                index, name, (time.perf_counter() - began) * 1000, (time.thread_time() - began_cpu) * 1000
            )
        self.counts[done] += 1
        self._note_engines()

    def _note_duration(self, index: int, name: str, ms: float, cpu_ms: float) -> None:
        """Keep the slowest steps: an action that blocks the GUI thread shows here."""
        if len(self.slowest) < 5 or ms > self.slowest[0][0]:
            self.slowest = sorted([*self.slowest, (round(ms, 1), index, name, round(cpu_ms, 1))])[-5:]
        if ms > 50:
            self.log.write(step=index, slow_ms=round(ms, 1), cpu_ms=round(cpu_ms, 1))

    def _on_stall(self, late_ms: float, cpu_ms: float) -> None:
        index, name = self._last_step
        self.log.write(stall_ms=round(late_ms, 1), cpu_ms=round(cpu_ms, 1), after_step=index, after_action=name)

    def _advance_flows(self) -> None:
        for flow in list(self.flows):
            began, began_cpu = time.perf_counter(), time.thread_time()
            try:
                finished = flow.advance()
            except FlowFailed as failed:
                self.flow_timeouts[flow.name] += 1
                self.log.write(flow=flow.name, failed=str(failed))
                finished = True
            except Skip as skip:
                self.skipped[flow.name + "_flow"] += 1
                self.log.write(flow=flow.name, skipped=str(skip))
                finished = True
            except Exception as exc:  # noqa: BLE001 - logged and counted; the soak goes on
                self._driver_error(f"flow {flow.name}", exc)
                finished = True
            self._note_duration(
                self.steps,
                f"{flow.name} flow",
                (time.perf_counter() - began) * 1000,
                (time.thread_time() - began_cpu) * 1000,
            )
            if finished:
                self.flows.remove(flow)
                if flow.completed:
                    self.counts[flow.outcome or flow.name + "_done"] += 1
                    self.log.write(flow=flow.name, completed=True)

    def _driver_error(self, where: str, exc: Exception) -> None:
        import traceback

        self.errors.append(f"{where}: {exc!r}")
        self.log.write(driver_error=f"{where}\n{traceback.format_exc()[-3000:]}")

    def _fault(self, index: int) -> None:
        """A fault the harness's own tests ask for: abort, hang, or leave a process behind."""
        fault = self.config.get("fault")
        if not fault or index != int(fault.get("at_step", 1)):
            return
        kind = fault["kind"]
        self.log.write(step=index, fault=kind)
        if kind == "abort":
            os.abort()
        elif kind == "hang":
            time.sleep(3600)
        elif kind == "orphan":
            import subprocess
            import sys

            orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
            self.pids.note(orphan.pid, "orphan")

    def _note_engines(self) -> None:
        for controller in (self.window.chat_engine, self.window.completion_engine):
            engine = controller.worker.engine
            pid = getattr(engine, "pid", None) if engine is not None else None
            self.pids.note(pid, f"engine-{controller.role}")
