"""The soak's driver: seeded random actions on Fimble's real main window, from a GUI-thread timer.

Every step draws an action name and a seed for its details from
``random.Random(seed)``, so a seed always gives the same list of attempts.
An action that does not apply at that moment (Stop with nothing streaming,
Tab with no ghost text) is logged as skipped. Actions go through the
widgets a user touches: keys into the editor and the chat input, buttons,
menu actions, tab close buttons, list clicks, the model manager's panels.
Where the window would open a modal dialog, the driver answers in its place
the way the tests do (``ask_save``, ``confirm``, ``choose_type``), and
Edit-and-resend calls ``ChatService.edit_and_resend`` with the text the edit
dialog would return. Nothing here waits: multi-step actions (a download
picked in the Get Models tab, a quantization picked in the Library) are
flows that go one step further on each tick once their condition holds.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, Slot
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTabBar

from bench.soak_flows import Flow, FlowFailed, Skip, download_flow, ghost_flow, quantize_flow
from bench.soak_stalls import StallMeter

STEP_MS = 100
BEAT_MS = 1000
WARMUP_S = 3.0
STARTUP_TIMEOUT_S = 180.0
CLOSE_FALLBACK_MS = 15_000

# Action name -> weight.
ACTIONS = {
    "type": 20, "delete": 8, "move_cursor": 4, "ghost": 10,
    "open_file": 4, "close_tab": 3, "new_tab": 2,
    "send": 8, "stop": 4, "regenerate": 3, "edit_resend": 2, "switch_conversation": 4,
    "open_manager": 2, "close_manager": 2,
    "download_start": 2, "download_pause_resume": 3, "download_cancel": 1,
    "quantize_start": 2, "quantize_cancel": 2,
    "switch_model": 2, "kill_host": 1, "resize": 3,
}
SNIPPETS = ("def area(w, h):", "return w * h", "import os", "for i in range(10):", "print(i)",
            "x = [n * n for n in data]", "class Point:", "self.x = x", "if not items:", "# TODO",
            "with open(path) as f:", "total += value", "} else {", "let y = 2;", "value")
PROMPTS = ("How do I reverse a list?", "Explain this loop.", "Write a function that parses CSV.",
           "What does `yield` do?", "Fix the off-by-one error.", "Add type hints please.")
MODEL_CHOICES = {"chat": ("generic", "codegemma"), "completion": ("codellama", "codegemma")}


class SoakDriver(QObject):
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
        self.slowest: list[tuple[float, int, str]] = []  # (ms, step, action) of the slowest steps
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

        self.messages.install()  # again, after the app's own start: both handlers run
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
            self._step_timer.start()
        elif time.monotonic() - self._attach_began > STARTUP_TIMEOUT_S:
            self._give_up(f"the models did not load within {STARTUP_TIMEOUT_S:.0f} s: "
                          f"{window.chat_model_label.text()} / {window.completion_model_label.text()}")

    def _give_up(self, reason: str) -> None:
        self._wait_timer.stop()
        self.error = reason
        self.log.write(error=reason)
        self._close_window()

    def _close_window(self) -> None:
        self._closing = True
        self._step_timer.stop()
        self.stalls.stop()
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
        slowest = [{"ms": ms, "step": step, "action": name} for ms, step, name in reversed(self.slowest)]
        return {"steps": self.steps, "actions": dict(sorted(self.counts.items())),
                "skipped": dict(sorted(self.skipped.items())), "sent": self.sent,
                "flow_timeouts": dict(self.flow_timeouts), "outcomes": dict(sorted(self.outcomes.items())),
                "driver_errors": self.errors[:5], "driver_error_count": len(self.errors),
                "slowest_steps": slowest, "close_ms": self.close_ms, "error": self.error, **stalls}

    @Slot()
    def _beat(self) -> None:
        self.log.write(beat=round(time.monotonic(), 3), steps=self.steps,
                       max_stall_ms=round(self.stalls.max_ms, 1))

    # ---- steps ---------------------------------------------------------------------

    @Slot()
    def _tick(self) -> None:
        if self._closing:
            return
        if time.monotonic() - self._started >= self.duration_s:
            self._close_window()
            return
        self._advance_flows()
        names, weights = zip(*ACTIONS.items())
        name = self.rng.choices(names, weights)[0]
        detail_rng = random.Random(self.rng.getrandbits(32))
        self.steps += 1
        index = self.steps
        self.log.write(step=index, action=name)
        self._last_step = (index, name)
        self._fault(index)
        began = time.perf_counter()
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
            self._note_duration(index, name, (time.perf_counter() - began) * 1000)
        self.counts[done] += 1
        self._note_engines()

    def _note_duration(self, index: int, name: str, ms: float) -> None:
        """Keep the slowest steps: an action that blocks the GUI thread shows here."""
        if len(self.slowest) < 5 or ms > self.slowest[0][0]:
            self.slowest = sorted([*self.slowest, (round(ms, 1), index, name)])[-5:]
        if ms > 50:
            self.log.write(step=index, slow_ms=round(ms, 1))

    def _on_stall(self, late_ms: float) -> None:
        index, name = self._last_step
        self.log.write(stall_ms=round(late_ms, 1), after_step=index, after_action=name)

    def _advance_flows(self) -> None:
        for flow in list(self.flows):
            began = time.perf_counter()
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
            self._note_duration(self.steps, f"{flow.name} flow", (time.perf_counter() - began) * 1000)
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

            orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                      start_new_session=True)
            self.pids.note(orphan.pid, "orphan")

    def _note_engines(self) -> None:
        for controller in (self.window.chat_engine, self.window.completion_engine):
            engine = controller.worker.engine
            pid = getattr(engine, "pid", None) if engine is not None else None
            self.pids.note(pid, f"engine-{controller.role}")

    # ---- editor --------------------------------------------------------------------

    def _editor(self):
        self._editor_free()  # the user waits for the suggestion they asked for; chat and manager go on
        editor = self.window.editor_pane.editor  # makes a tab when none is open
        editor.setFocus()
        return editor

    def _editor_free(self) -> None:
        if self._flow_running("ghost"):
            raise Skip("waiting for a suggestion")

    def act_type(self, r: random.Random) -> str:
        editor = self._editor()
        if r.random() < 0.15:
            QTest.keyClick(editor, Qt.Key.Key_Return)
            return "type_newline"
        snippet = r.choice(SNIPPETS)
        QTest.keyClicks(editor, snippet[: r.randint(1, min(8, len(snippet)))])
        return "type"

    def act_delete(self, r: random.Random) -> str:
        editor = self._editor()
        if editor.document().isEmpty():
            raise Skip("the buffer is empty")
        for _ in range(r.randint(1, 6)):
            QTest.keyClick(editor, Qt.Key.Key_Backspace)
        return "delete"

    def act_move_cursor(self, r: random.Random) -> str:
        editor = self._editor()
        cursor = editor.textCursor()
        cursor.setPosition(r.randint(0, max(0, editor.document().characterCount() - 1)))
        editor.setTextCursor(cursor)
        return "move_cursor"

    def act_ghost(self, r: random.Random) -> str:
        editor = self._editor()
        accept = r.random() < 0.5
        if not editor.ghost.visible:
            self.flows.append(Flow("ghost", ghost_flow(self.window, editor, accept)))
            return "ghost_request"
        QTest.keyClick(editor, Qt.Key.Key_Tab if accept else Qt.Key.Key_Escape)
        return "ghost_accept" if accept else "ghost_dismiss"

    def act_open_file(self, r: random.Random) -> str:
        self._editor_free()
        self.window.open_path(str(r.choice(self.project)))
        return "open_file"

    def act_close_tab(self, r: random.Random) -> str:
        self._editor_free()
        tabs = self.window.editor_pane.tabs
        if tabs.count() == 0:
            raise Skip("no tab is open")
        index = r.randrange(tabs.count())
        button = tabs.tabBar().tabButton(index, QTabBar.ButtonPosition.RightSide)
        if button is None:
            button = tabs.tabBar().tabButton(index, QTabBar.ButtonPosition.LeftSide)
        if button is None:
            raise Skip("the tab has no close button")
        button.click()
        return "close_tab"

    def act_new_tab(self, r: random.Random) -> str:
        self._editor_free()
        self._menu_action("&File", "&New").trigger()
        return "new_tab"

    # ---- chat ----------------------------------------------------------------------

    def act_send(self, r: random.Random) -> str:
        pane = self.window.chat_pane
        marker = f"soak{self.seed}m{self.steps:05d}"
        pane.input.setPlainText(f"{marker} {r.choice(PROMPTS)}")
        if r.random() < 0.5:
            pane.send_button.click()
        else:
            QTest.keyClick(pane.input, Qt.Key.Key_Return)
        if pane.input.toPlainText():
            pane.input.clear()  # refused while an answer streams; the text never left the box
            raise Skip("an answer is streaming")
        self.sent += 1
        self.log.write(sent=marker)
        return "send"

    def act_stop(self, r: random.Random) -> str:
        button = self.window.chat_pane.stop_button
        if not button.isEnabled():
            raise Skip("nothing is streaming")
        button.click()
        return "stop"

    def act_regenerate(self, r: random.Random) -> str:
        pane = self.window.chat_pane
        if not pane.regen_button.isEnabled() or not any(m.role == "user" for m in pane.service.messages()):
            raise Skip("nothing to regenerate")
        pane.regen_button.click()
        return "regenerate"

    def act_edit_resend(self, r: random.Random) -> str:
        service = self.window.chat_pane.service
        users = [m for m in service.messages() if m.role == "user"]
        if service.busy or not users:
            raise Skip("busy, or no message to edit")
        last = users[-1]  # an earlier one would drop the messages after it, as the user asked
        if service.edit_and_resend(last.id, f"{last.content} (edited)") is None:
            raise Skip("the service refused the edit")
        return "edit_resend"

    def act_switch_conversation(self, r: random.Random) -> str:
        pane = self.window.chat_pane
        if pane.list.count() == 0 or r.random() < 0.25:
            pane.new_button.click()
            return "new_conversation"
        item = pane.list.item(r.randrange(pane.list.count()))
        pane.list.scrollToItem(item)
        rect = pane.list.visualItemRect(item)
        QTest.mouseClick(pane.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(rect.center()))
        return "switch_conversation"

    # ---- model manager -------------------------------------------------------------

    def _menu_action(self, menu_title: str, text: str):
        for menu_action in self.window.menuBar().actions():
            if menu_action.text() == menu_title:
                for action in menu_action.menu().actions():
                    if action.text() == text:
                        return action
        raise RuntimeError(f"no menu item {menu_title} → {text}")

    def _open_manager(self):
        first = self.window.model_jobs is None
        self._menu_action("&Models", "&Model Manager…").trigger()
        if first:
            self.window.model_jobs.finished.connect(self._on_job_finished)
        dialog = self.window.models_dialog
        # Answer its questions as a user keeping their files would.
        dialog.confirm = lambda title, text: False
        dialog.library_panel.confirm = dialog.confirm
        return dialog

    def act_open_manager(self, r: random.Random) -> str:
        self._open_manager()
        return "open_manager"

    def act_close_manager(self, r: random.Random) -> str:
        dialog = self.window.models_dialog
        if dialog is None or not dialog.isVisible():
            raise Skip("the model manager is not open")
        if r.random() < 0.5:
            QTest.keyClick(dialog, Qt.Key.Key_Escape)
        else:
            dialog.close()
        return "close_manager"

    def _jobs(self, kind: str):
        jobs = self.window.model_jobs
        return [j for j in jobs.jobs() if j.kind == kind and j.active] if jobs is not None else []

    def _flow_running(self, name: str) -> bool:
        return any(flow.name == name for flow in self.flows)

    def act_download_start(self, r: random.Random) -> str:
        if self._jobs("pull") or self._flow_running("download"):
            raise Skip("a download is under way")
        dialog = self._open_manager()
        target = Path(dialog.library.models_dir) / self.config["hub_folder"] / self.config["hub_file"]
        target.unlink(missing_ok=True)  # the last one finished: let this one download again
        self.flows.append(Flow("download", download_flow(dialog, self.config["hub_query"])))
        return "download_start"

    def _job_row(self, job):
        dialog = self.window.models_dialog
        entry = dialog.jobs_panel.rows.get(job.id) if dialog is not None else None
        if entry is None:
            raise Skip("the job has no row yet")
        return entry[1]

    def act_download_pause_resume(self, r: random.Random) -> str:
        jobs = self._jobs("pull")
        if not jobs:
            raise Skip("no download")
        row = self._job_row(r.choice(jobs))
        if not row.pause_button.isEnabled():
            raise Skip("pause is not offered now")
        verb = "download_resume" if row.pause_button.text() == "Resume" else "download_pause"
        row.pause_button.click()
        return verb

    def act_download_cancel(self, r: random.Random) -> str:
        return self._cancel_job("pull", r)

    def act_quantize_start(self, r: random.Random) -> str:
        from app.engine.quantizer import default_output_path

        if self._jobs("quantize") or self._flow_running("quantize"):
            raise Skip("a quantization is under way")
        dialog = self._open_manager()
        qtype = r.choice(("Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"))
        default_output_path(self.f16, qtype).unlink(missing_ok=True)  # made by an earlier step
        self.flows.append(Flow("quantize", quantize_flow(dialog, str(self.f16), qtype)))
        return "quantize_start"

    def act_quantize_cancel(self, r: random.Random) -> str:
        return self._cancel_job("quantize", r)

    def _cancel_job(self, kind: str, r: random.Random) -> str:
        jobs = self._jobs(kind)
        if not jobs:
            raise Skip(f"no {kind} job")
        row = self._job_row(r.choice(jobs))
        if not row.cancel_button.isEnabled():
            raise Skip("cancel is not offered now")
        row.cancel_button.click()
        return f"{'download' if kind == 'pull' else kind}_cancel"

    # ---- engines and window --------------------------------------------------------

    def act_switch_model(self, r: random.Random) -> str:
        role = r.choice(("chat", "completion"))
        current = self.window.settings.model_for(role)
        choices = [self.models[family] for family in MODEL_CHOICES[role] if self.models[family] != current]
        self.window.set_model(role, r.choice(choices))
        return f"switch_{role}_model"

    def act_kill_host(self, r: random.Random) -> str:
        controller = r.choice((self.window.chat_engine, self.window.completion_engine))
        engine = controller.worker.engine
        pid = getattr(engine, "pid", None) if engine is not None else None
        if not pid or not engine.is_alive():
            raise Skip("the host is not running")
        self.pids.note(pid, f"engine-{controller.role}")
        os.kill(pid, signal.SIGKILL)
        self.log.write(step=self.steps, killed=pid, role=controller.role)
        return f"kill_{controller.role}_host"

    def act_resize(self, r: random.Random) -> str:
        self.window.resize(r.randint(640, 1600), r.randint(480, 1000))
        return "resize"
