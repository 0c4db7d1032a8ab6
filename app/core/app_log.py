"""The GUI's own log file, ``logs/fimble.log``: what a user attaches to a crash report.

Engine hosts keep their own logs (``engine-<role>.log``). This one holds the
GUI process's warnings, among them every Qt message (see ``ui/qt_messages.py``),
so that a report carries Qt's thread warnings, which come before most crashes.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FILE = "fimble.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 2
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def setup_app_log(logs_dir: Path, level: int = logging.INFO) -> Path:
    """Send the ``app`` loggers to a rotating file in ``logs_dir``; calling it again changes nothing.

    Args:
        logs_dir: The log folder; created if missing.
        level: The lowest level written.

    Returns:
        The log file's path.
    """
    path = Path(logs_dir) / LOG_FILE
    logger = logging.getLogger("app")
    for handler in logger.handlers:
        if getattr(handler, "baseFilename", None) == str(path.resolve()):
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(min(logger.level or level, level))
    return path
