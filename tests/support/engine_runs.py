"""Running one engine job to its end in a test: the text it streamed and its stats."""

from __future__ import annotations

from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats


def collect(stream) -> tuple[list[str], GenerationStats | None]:
    """The text pieces of a job's stream and its stats (None if the stream ended without them)."""
    pieces, stats = [], None
    for item in stream:
        if isinstance(item, GenerationStats):
            stats = item
        else:
            pieces.append(item)
    return pieces, stats


def run_job(engine, job: int, request: FimRequest | ChatRequest) -> tuple[str, GenerationStats]:
    """Drive ``engine.generate`` to its end; return the joined pieces and the final stats."""
    pieces, stats = collect(engine.generate(job, request))
    assert stats is not None, "the engine ended a job without its stats"
    return "".join(pieces), stats
