"""Fimble: an offline coding assistant for the desktop."""

import os

__version__ = "0.1.0"

# Nothing leaves the machine unasked: huggingface_hub otherwise sends a
# telemetry request when it first builds request headers. Set before any
# import of huggingface_hub, which reads it once.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
