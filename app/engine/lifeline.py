"""Child processes end themselves when the process that started them dies.

An engine host or a quantizer left running after the window was killed
would hold gigabytes of memory, and a quantizer would keep writing a file
nobody will rename. ``exit_with_parent`` starts a watcher thread in the
child that notices the parent's death two ways, so it works everywhere:

* ``multiprocessing.parent_process().sentinel`` becomes ready: on POSIX it is
  the read end of a pipe whose write end only the parent holds (the kernel
  closes it when the parent dies, however it dies); on Windows it is the
  parent's process handle;
* on POSIX, the parent pid changes (the child was handed to init or a
  subreaper), in case the sentinel was somehow lost.

Linux's ``PR_SET_PDEATHSIG`` is deliberately not used: it fires when the
*thread* that started the child ends, and Fimble starts hosts from helper
threads that end long before the window does.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

# How often the watcher looks at the parent pid between sentinel waits.
POLL_S = 0.5
# Exit status of a child that ended because its parent was gone.
ORPHAN_EXIT_CODE = 3


def parent_is_gone(parent: BaseProcess | None, parent_pid: int) -> bool:
    """Whether the parent that started this process has died.

    Args:
        parent: ``multiprocessing.parent_process()`` (None when not a child).
        parent_pid: ``os.getppid()`` as it was when this process started.

    Returns:
        True once the parent's sentinel is ready or, on POSIX, this process
        has been handed to another parent.
    """
    if parent is not None and parent.sentinel is not None and wait([parent.sentinel], 0):
        return True
    return os.name == "posix" and os.getppid() != parent_pid


def exit_with_parent(on_orphaned: Callable[[], None] | None = None, poll_s: float = POLL_S) -> threading.Thread:
    """Start a daemon thread that ends this process soon after its parent dies.

    The thread waits on the parent's sentinel (``poll_s`` at a time) and
    checks the parent pid in between. When the parent is gone it calls
    ``on_orphaned`` (best effort: its errors are ignored) and then
    ``os._exit(ORPHAN_EXIT_CODE)``, which works even while the main thread is
    inside a long llama.cpp call.

    Args:
        on_orphaned: Cleanup to run first, e.g. removing a half-written file.
        poll_s: Seconds between parent-pid checks.

    Returns:
        The started watcher thread.
    """
    parent = multiprocessing.parent_process()
    parent_pid = os.getppid()

    def watch() -> None:
        while True:
            if parent is not None and parent.sentinel is not None:
                wait([parent.sentinel], poll_s)
            else:
                threading.Event().wait(poll_s)
            if parent_is_gone(parent, parent_pid):
                break
        if on_orphaned is not None:
            try:
                on_orphaned()
            except BaseException:  # noqa: BLE001 - nothing may stop the exit
                pass
        os._exit(ORPHAN_EXIT_CODE)

    thread = threading.Thread(target=watch, name="fimble-lifeline", daemon=True)
    thread.start()
    return thread
