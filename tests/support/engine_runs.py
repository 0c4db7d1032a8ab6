"""Running one engine job to its end in a test: the text it streamed and its stats."""

from __future__ import annotations

from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats


def run_job(engine, job: int, request: FimRequest | ChatRequest) -> tuple[str, GenerationStats]:
    """Drive ``engine.generate`` to its end; return the joined pieces and the final stats."""
    pieces, stats = [], None
    for item in engine.generate(job, request):
        if isinstance(item, GenerationStats):
            stats = item
        else:
            pieces.append(item)
    assert stats is not None, "the engine ended a job without its stats"
    return "".join(pieces), stats
