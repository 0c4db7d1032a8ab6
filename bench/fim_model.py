"""Write a random-weight FIM model with CodeGemma's control tokens and a real model's shape, quantized.

``bench fim --model`` then shows how the completion window and the jump
latency behave on a model slower than the starter. The weights are random,
so the suggestions mean nothing; the speed is the real model's, apart from
the vocabulary: the tiny fixture vocabulary makes the output layer cheaper
than CodeGemma's 256,000 tokens.

    python -m bench.fim_model OUT.gguf --shape 2b
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# Gemma's published shapes (embedding, layers, heads, KV heads, feed-forward).
SHAPES = {
    "2b": {"n_embd": 2048, "n_layers": 18, "n_head": 8, "n_head_kv": 1, "n_ff": 16384},
    "1b": {"n_embd": 1536, "n_layers": 14, "n_head": 6, "n_head_kv": 1, "n_ff": 12288},
}


def make(out: Path, shape: str, qtype: str = "Q4_K_M") -> Path:
    """Write the F16 model to a temporary folder and quantize it into ``out``."""
    from app.core.models.quantize_plan import plan_quantize
    from app.engine.quantizer import Quantizer
    from app.selftest.tiny_gguf import write_tiny_gguf

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        source = write_tiny_gguf(
            Path(tmp) / f"codegemma-{shape}-random-F16.gguf",
            "codegemma",
            file_type="F16",
            context_length=8192,
            name=f"random codegemma {shape}",
            **SHAPES[shape],
        )
        return Quantizer().run(plan_quantize(source, out, qtype))


def main(argv: list[str] | None = None) -> int:
    """Command line: the output path and the shape."""
    parser = argparse.ArgumentParser(prog="python -m bench.fim_model", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="2b")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(make(args.out, args.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
