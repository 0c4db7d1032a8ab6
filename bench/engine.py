"""``bench engine``: tokens/s through Fimble's engine host vs raw llama-cpp-python.

Both sides load the starter model with the same settings, evaluate the same
prompt and generate the same number of tokens greedily (end-of-generation
ignored), alternating rounds so machine noise hits both alike.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.common import raw_decode_rate

PROMPT = "def quicksort(items):\n    "


def _fimble_round(engine, job: int, n: int) -> float:
    from app.core.generation.contracts import FimRequest, GenerationStats, Sampling

    sampling = Sampling(max_tokens=n, temperature=0.0, ignore_eos=True)
    request = FimRequest(PROMPT, allow_prefix_only=True, sampling=sampling)
    stats = [s for s in engine.generate(job, request) if isinstance(s, GenerationStats)][0]
    assert stats.generated_tokens == n, stats
    return stats.tokens_per_s


def run(quick: bool) -> dict:
    """Measure both sides; return medians and their ratio."""
    import llama_cpp

    from app.core.models.load_params import LoadParams
    from app.core.models.starter import starter_model_path
    from app.engine.host_client import HostEngine

    rounds, n_tokens = (2, 48) if quick else (5, 128)
    with tempfile.TemporaryDirectory() as folder:
        model = str(starter_model_path(Path(folder)))
        params = LoadParams(n_ctx=2048)
        engine = HostEngine("bench", log_path=str(Path(folder) / "engine.log"))
        engine.start()
        try:
            engine.load(model, params)
            raw = llama_cpp.Llama(model_path=model, n_ctx=2048, n_gpu_layers=-1, verbose=False)
            prompt, _ = engine.build_prompt(_fim(PROMPT))
            fimble_tps, raw_tps = [], []
            for job in range(rounds):
                fimble_tps.append(_fimble_round(engine, job, n_tokens))
                raw_tps.append(raw_decode_rate(raw, prompt, n_tokens))
            raw.close()
        finally:
            engine.close()
    fimble, baseline = statistics.median(fimble_tps), statistics.median(raw_tps)
    return {
        "fimble_tokens_per_s": round(fimble, 2),
        "raw_tokens_per_s": round(baseline, 2),
        "throughput_ratio": round(fimble / baseline, 3),
        "tokens_per_round": n_tokens,
        "rounds": rounds,
        "model": Path(model).name,
    }


def _fim(prefix: str):
    from app.core.generation.contracts import FimRequest

    return FimRequest(prefix, allow_prefix_only=True)
