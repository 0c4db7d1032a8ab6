"""Messages between the GUI/CLI process and an engine host, over a pipe.

Every message is a small frozen dataclass, and so is everything it carries
(core's request, report and stats types); nothing here imports llama_cpp, so
both sides can share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel

# ---- parent -> host ---------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Load a model, replacing any loaded one."""

    path: str
    params: LoadParams
    vocab_only: bool = False


@dataclass(frozen=True)
class Tokenize:
    """Tokenize text with the loaded model."""

    text: str
    special: bool = False


@dataclass(frozen=True)
class Generate:
    """Build the prompt for ``request`` and stream an answer."""

    job_id: int
    request: FimRequest | ChatRequest


@dataclass(frozen=True)
class BuildPrompt:
    """Return the prompt ``request`` would evaluate, without generating."""

    request: FimRequest | ChatRequest


@dataclass(frozen=True)
class Cancel:
    """Stop job ``job_id`` (None: whatever runs now) within one token."""

    job_id: int | None = None


@dataclass(frozen=True)
class Hold:
    """Pause job ``job_id`` between tokens (``on``), or let it go on; it may not have started yet."""

    job_id: int
    on: bool


@dataclass(frozen=True)
class Unload:
    """Free the loaded model."""


@dataclass(frozen=True)
class Shutdown:
    """Exit the host process."""


# ---- host -> parent ---------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The host started; ``backend`` says what llama.cpp was built with."""

    backend: BackendInfo


@dataclass(frozen=True)
class LoadProgress:
    """Model loading advanced to ``fraction`` (0..1)."""

    fraction: float


@dataclass(frozen=True)
class Loaded:
    """The model is loaded; ``model`` is its summary plus the facts of the load."""

    model: LoadedModel


@dataclass(frozen=True)
class Tokens:
    """Token ids and their printable pieces."""

    ids: list[int]
    pieces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Piece:
    """Text of newly generated tokens for job ``job_id``."""

    job_id: int
    text: str


@dataclass(frozen=True)
class Done:
    """Job ``job_id`` finished; ``text`` is everything it generated."""

    job_id: int
    text: str
    stats: GenerationStats


@dataclass(frozen=True)
class Failed:
    """A command failed; ``message`` is one plain-language line.

    ``kind`` is one of: bad_model, wrong_role, no_model, context_overflow,
    load_failed, load_cancelled, bad_request, internal.
    """

    kind: str
    message: str
    job_id: int | None = None


@dataclass(frozen=True)
class Unloaded:
    """The model was freed."""
