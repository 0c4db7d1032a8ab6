"""What the welcome card reads off the GUI thread, and the lines it shows about a pull.

``find_source`` asks the Hub where an offer comes from and reads the disk and
token state (a pool thread runs it); the rest turn a job or an error into one
line for the card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import ErrorKind, one_line
from app.core.machine import human_bytes

if TYPE_CHECKING:
    from app.core.hub.client import HubClient
    from app.core.hub.pull_plan import PullPlan
    from app.core.models.setups import Setup
    from app.services.model_jobs import Job


@dataclass(frozen=True)
class Source:
    """Where an offer comes from, with the disk and token state, read off the GUI thread."""

    plan: PullPlan
    has_token: bool
    needed_bytes: int
    free_bytes: int | None
    folder: Path


def find_source(setup: Setup, factory: Callable[[], HubClient] | None) -> Source:
    """Plan the pull of ``setup`` and read the disk and token state (network and disk: a pool thread)."""
    from app.core.hub.client import HubClient
    from app.core.hub.setup_plan import plan_for_entry
    from app.core.hub.token import load_token
    from app.core.machine import disk_free
    from app.core.paths import app_dirs

    client = (factory or HubClient)()
    plan = plan_for_entry(setup.entry, setup.quant, client)
    folder = plan.folder(app_dirs().models)
    needed = plan.file.size + (setup.size_bytes if plan.quantize_to else 0)
    try:
        free: int | None = disk_free(folder)
    except OSError:
        free = None
    return Source(plan, bool(client.token or load_token()), needed, free, folder)


def progress_line(job: Job) -> str:
    """E.g. ``Downloading 1.2 GB of 5.3 GB · 12.0 MB/s · about 6 min left``."""
    if job.state == "queued":
        return "Waiting for the job before it (Models → Model Manager… → Downloads)."
    if job.state == "paused":
        return f"Paused at {human_bytes(job.done)} of {human_bytes(job.total)}; Resume continues."
    if job.stage == "quantize":
        return f"Quantizing locally: {job.fraction:.0%} ({job.detail})" if job.detail else "Quantizing locally…"
    if job.stage == "verifying":
        return "Checking the file…"
    parts = [f"Downloading {human_bytes(job.done)} of {human_bytes(job.total)}"]
    if job.speed_bps:
        parts.append(f"{human_bytes(job.speed_bps)}/s")
    if job.eta_s is not None:
        parts.append(f"about {max(1, round(job.eta_s / 60))} min left" if job.eta_s >= 60 else "under a minute left")
    if job.detail:
        parts.append(job.detail)
    return " · ".join(parts)


def failure_hint(kind: ErrorKind | None) -> str:
    """What to do next after a failure of this kind."""
    if kind in (ErrorKind.GATED, ErrorKind.AUTH):
        return " Accept the license on the model's Hub page and store a token, then press Get it again."
    if kind == ErrorKind.OFFLINE:
        return " Offline: import a GGUF you have instead (Model Manager → Library → Import…)."
    if kind == ErrorKind.DISK_FULL:
        return " Free some space, then press Get it again: the download continues."
    return " Press Get it to try again."


def reason_line(exc: BaseException) -> str:
    """An error as one sentence for the card, with what to do next."""
    kind = getattr(exc, "kind", None)
    text = one_line(exc)
    return f"{text[:1].upper()}{text[1:]}." + failure_hint(kind if isinstance(kind, ErrorKind) else None)
