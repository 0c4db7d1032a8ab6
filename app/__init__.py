"""Fimble: an offline coding assistant for the desktop."""

import os

__version__ = "0.1.0"

# Nothing leaves the machine unasked: huggingface_hub otherwise sends a
# telemetry request when it first builds request headers. Set before any
# import of huggingface_hub, which reads it once.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# PySide6 imported before Fimble reads every later module's source on import; stop that.
from app.import_scan import skip_source_scan  # noqa: E402 - after the variable above

skip_source_scan()
