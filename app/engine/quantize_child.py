"""The quantizer's child process: llama.cpp's quantizer, its log read as progress.

llama.cpp reports each tensor it writes on one log line, such as (its
column padding shortened here)::

    [  12/  20] blk.0.attn_q.weight - [ 256, 256, 1, 1], type = f16, converting to q4_K .. size = 0.12 MiB -> 0.04 MiB

delivered in several fragments (the part before ``converting`` comes before
the tensor is converted). ``LogLines`` joins the fragments into lines, and
``parse_progress`` reads the counter and tensor name from a finished line.

Messages sent to the parent over the pipe are tuples:

* ``("progress", done, total, tensor)`` after each tensor is written;
* ``("log", level, line)`` for each warning or error line;
* ``("done", code)`` with llama_model_quantize's return value (0 is success).
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

from app.engine.lifeline import exit_with_parent

# ggml_log_level values (ggml.h).
LEVEL_WARN = 3
LEVEL_ERROR = 4
LEVEL_CONT = 5  # continues the previous line

# The log callback must outlive every call into llama.cpp, so it is kept here.
_KEEP_ALIVE: list[object] = []

_PROGRESS = re.compile(r"^\[\s*(\d+)\s*/\s*(\d+)\s*\]\s+(\S+)\s+-\s+\[")


def parse_progress(line: str) -> tuple[int, int, str] | None:
    """Read ``(done, total, tensor)`` from one quantizer log line.

    Args:
        line: A whole log line.

    Returns:
        The counters and tensor name, or None if it is not a per-tensor line.
    """
    match = _PROGRESS.match(line)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3)


class LogLines:
    """Joins llama.cpp's log fragments into whole lines.

    A line takes the level of its first fragment; ``LEVEL_CONT`` fragments
    and fragments without a newline extend the line being built.
    """

    def __init__(self, on_line: Callable[[int, str], None]) -> None:
        self._on_line = on_line
        self._parts: list[str] = []
        self._level = 0

    def feed(self, level: int, text: str) -> None:
        """Take one fragment; call ``on_line`` for each line it completes."""
        if not self._parts and level != LEVEL_CONT:
            self._level = level
        while text:
            head, newline, text = text.partition("\n")
            self._parts.append(head)
            if not newline:
                return
            line = "".join(self._parts)
            self._parts = []
            self._on_line(self._level, line)
            if text and level != LEVEL_CONT:
                self._level = level

    def flush(self) -> None:
        """Report a last line that never got its newline."""
        if self._parts:
            line = "".join(self._parts)
            self._parts = []
            self._on_line(self._level, line)


def _redirect_stderr(log_path: str | None) -> None:
    """Send stderr (ggml assertions, Python tracebacks) to the parent's log file."""
    if not log_path:
        return
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(log.fileno(), 2)
    sys.stderr = log


def quantize_main(
    conn: Connection, source: str, output: str, ftype: int, threads: int, allow_requantize: bool, log_path: str | None
) -> None:
    """Entry point of the child process (started with ``spawn``).

    Args:
        conn: This end of the pipe to the parent.
        source: The input GGUF.
        output: Where llama.cpp writes; the parent renames it on success.
        ftype: llama.cpp's ``llama_ftype`` of the output.
        threads: Worker threads; 0 lets llama.cpp use every core.
        allow_requantize: Accept an input that is already quantized.
        log_path: File that receives this process's stderr.
    """
    # The parent alone decides when to stop; Ctrl+C reaches the whole
    # process group and would otherwise surface inside the log callback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # If the window's process dies, nobody will rename or delete the output:
    # remove it and end, even in the middle of llama_model_quantize.
    exit_with_parent(on_orphaned=lambda: os.unlink(output))
    _redirect_stderr(log_path)
    import llama_cpp

    def on_line(level: int, line: str) -> None:
        progress = parse_progress(line)
        if progress is not None:
            conn.send(("progress", *progress))
        elif level in (LEVEL_WARN, LEVEL_ERROR) and line.strip():
            conn.send(("log", level, line))

    lines = LogLines(on_line)

    def on_log(level: int, text: bytes, _user_data: object) -> None:
        try:
            lines.feed(int(level), text.decode("utf-8", errors="replace") if text else "")
        except (BrokenPipeError, EOFError, OSError):
            pass  # the parent is gone; it will end this process

    callback = llama_cpp.llama_log_callback(on_log)
    _KEEP_ALIVE.append(callback)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = allow_requantize
    code = llama_cpp.llama_model_quantize(os.fsencode(source), os.fsencode(output), ctypes.byref(params))
    lines.flush()
    conn.send(("done", int(code)))
    conn.close()
