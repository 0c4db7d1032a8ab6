"""Pull a model: download the planned file, and quantize it locally when the plan says so.

The CLI (``fimble models pull``) and the model manager's job queue both call
``run_pull``, so a pull behaves the same in the window and the shell. This
module has no Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.hub.client import HubClient
from app.core.hub.downloader import DownloadControl, DownloadProgress, download_file
from app.core.hub.pull_plan import PullPlan
from app.core.models.quantize_plan import plan_quantize
from app.engine.quantizer import Quantizer


@dataclass
class PullCallbacks:
    """What a running pull reports; every callback is optional."""

    on_download: Callable[[DownloadProgress], None] | None = None
    on_quantize: Callable[[object], None] | None = None
    on_stage: Callable[[str], None] | None = None


def run_pull(
    plan: PullPlan,
    models_dir: Path,
    *,
    client: HubClient,
    control: DownloadControl | None = None,
    callbacks: PullCallbacks | None = None,
    quantizer=None,
    keep_source: bool = True,
) -> Path:
    """Download, and quantize when the plan says so; return the model's path.

    Args:
        plan: From ``plan_pull``.
        models_dir: The library's folder.
        client: The Hub client (endpoint and token).
        control: Pause and cancel for the download.
        callbacks: Progress reports.
        quantizer: The ``Quantizer`` to run (and to cancel from another
            thread); a new one when None.
        keep_source: Keep the full-precision download after quantizing.

    Raises:
        DownloadError, QuantizeError: With one-line messages.
    """
    callbacks = callbacks or PullCallbacks()
    folder = plan.folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if callbacks.on_stage:
        callbacks.on_stage("download")
    source = download_file(plan.file, folder, client=client, on_progress=callbacks.on_download, control=control)
    if not plan.quantize_to:
        return source
    output = folder / plan.output_name()
    if output.exists():
        return output
    if callbacks.on_stage:
        callbacks.on_stage("quantize")
    quantize_plan = plan_quantize(source, output, plan.quantize_to)
    result = (quantizer or Quantizer()).run(quantize_plan, on_progress=callbacks.on_quantize)
    if not keep_source:
        source.unlink(missing_ok=True)
    return result
