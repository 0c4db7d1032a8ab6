"""The soak's actions on Fimble's main window, each one step a user could take.

An action that does not apply at that moment (Stop with nothing streaming,
Tab with no ghost text) raises ``Skip``, and the session logs it as skipped.
Actions go through the widgets a user touches: keys into the editor and the
chat input, buttons, menu actions, tab close buttons, list clicks, the model
manager's panels. Where the window would open a modal dialog, the soak
answers in its place the way the tests do (``ask_save``, ``confirm``,
``choose_type``), and Edit-and-resend calls ``ChatService.edit_and_resend``
with the text the edit dialog would return.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTabBar

from bench.soak_flows import Flow, Skip, download_flow, ghost_flow, quantize_flow

# Action name -> weight.
ACTIONS = {
    "type": 20,
    "delete": 8,
    "move_cursor": 4,
    "ghost": 6,
    "open_file": 4,
    "close_tab": 3,
    "new_tab": 2,
    "send": 8,
    "stop": 4,
    "regenerate": 3,
    "edit_resend": 2,
    "switch_conversation": 4,
    "open_manager": 2,
    "close_manager": 2,
    "download_start": 2,
    "download_pause_resume": 3,
    "download_cancel": 1,
    "quantize_start": 2,
    "quantize_cancel": 2,
    "switch_model": 2,
    "kill_host": 1,
    "resize": 3,
}
SNIPPETS = (
    "def area(w, h):",
    "return w * h",
    "import os",
    "for i in range(10):",
    "print(i)",
    "x = [n * n for n in data]",
    "class Point:",
    "self.x = x",
    "if not items:",
    "# TODO",
    "with open(path) as f:",
    "total += value",
    "} else {",
    "let y = 2;",
    "value",
)
PROMPTS = (
    "How do I reverse a list?",
    "Explain this loop.",
    "Write a function that parses CSV.",
    "What does `yield` do?",
    "Fix the off-by-one error.",
    "Add type hints please.",
)
MODEL_CHOICES = {"chat": ("generic", "codegemma"), "completion": ("codellama", "codegemma")}


class SoakActions:
    """The ``act_*`` steps; mixed into ``SoakSession``, whose state they use.

    Each takes the step's own ``random.Random`` and returns the name to
    count (e.g. ``ghost_accept``), or raises ``Skip``.
    """

    window: object  # the MainWindow
    flows: list
    log: object  # EventLog
    pids: object  # PidWatcher
    config: dict
    models: dict[str, str]
    project: list[Path]
    f16: Path
    seed: int
    steps: int
    sent: int

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
        path = r.choice(self.project)
        self.log.write(step=self.steps, file=path.name)
        self.window.open_path(str(path))
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
        QTest.mouseClick(
            pane.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(rect.center())
        )
        return "switch_conversation"

    # ---- model manager -------------------------------------------------------------

    def _menu_action(self, menu_title: str, text: str):
        for menu_action in self.window.menuBar().actions():
            if menu_action.text() == menu_title:
                for action in menu_action.menu().actions():
                    if action.text() == text:
                        return action
        raise RuntimeError(f"no menu item {menu_title} → {text}")

    def _open_manager(self, raise_it: bool = True):
        """Open the model manager from its menu (or only make sure it exists and is shown)."""
        dialog = self.window.models_dialog
        if dialog is not None and dialog.isVisible() and not raise_it:
            return dialog
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
        dialog = self._open_manager(raise_it=False)
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
        from app.core.models.quantize_plan import default_output_path

        if self._jobs("quantize") or self._flow_running("quantize"):
            raise Skip("a quantization is under way")
        dialog = self._open_manager(raise_it=False)
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
