"""Queued signals between threads survive heavy use and a clean exit.

PySide6 6.12.0 aborted with "bool_dealloc" after a few thousand queued slot
calls across threads, which is how every engine worker talks to the GUI.
The script runs in a child process so that an abort fails the test instead
of the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import time
    from dataclasses import dataclass
    from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

    @dataclass(frozen=True)
    class Payload:
        n: int
        flag: bool = False

    class Worker(QObject):
        back = Signal(int, object)

        @Slot(int, object)
        def take(self, n, payload):
            self.back.emit(n, Payload(n, not payload.flag))

    class Front(QObject):
        go = Signal(int, object)

    if __name__ == "__main__":
        app = QCoreApplication([])
        thread, worker, front = QThread(), Worker(), Front()
        worker.moveToThread(thread)
        front.go.connect(worker.take)
        got = []
        worker.back.connect(lambda n, payload: got.append(payload.flag))
        thread.start()
        for n in range(5000):
            front.go.emit(n, Payload(n))
        deadline = time.time() + 20
        while len(got) < 5000 and time.time() < deadline:
            app.processEvents()
        thread.quit()
        thread.wait()
        print("received", len(got), all(got))
    """
)


def test_queued_cross_thread_signals_do_not_corrupt_refcounts(tmp_path):
    script = tmp_path / "stress.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "received 5000 True"
