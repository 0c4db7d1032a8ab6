"""GGUF quantization types: their names, llama.cpp ids, and how files name them.

Names are the ones users see on the Hub and in file names (``Q4_K_M``,
``F16``). The ids are llama.cpp's ``llama_ftype`` values, which are also what
``general.file_type`` holds in a GGUF, so this module needs no llama.cpp.
"""

from __future__ import annotations

import re

# llama_ftype values (llama.h), by display name.
FTYPES: dict[str, int] = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_S": 11,
    "Q3_K_M": 12,
    "Q3_K_L": 13,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "IQ2_XXS": 19,
    "IQ2_XS": 20,
    "Q2_K_S": 21,
    "IQ3_XS": 22,
    "IQ3_XXS": 23,
    "IQ1_S": 24,
    "IQ4_NL": 25,
    "IQ3_S": 26,
    "IQ3_M": 27,
    "IQ2_S": 28,
    "IQ2_M": 29,
    "IQ4_XS": 30,
    "IQ1_M": 31,
    "BF16": 32,
    "TQ1_0": 36,
    "TQ2_0": 37,
}
FULL_PRECISION = ("F32", "F16", "BF16")
# Targets offered first, best quality first; the required set.
RECOMMENDED = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0")
# Types llama.cpp can only produce well with an importance matrix, which
# Fimble does not compute; they are not offered as quantize targets.
NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S"})

_BY_UPPER = {name.upper(): name for name in FTYPES}
# Longest names first so Q4_K_M wins over Q4_K and IQ4_XS over Q4.
_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])("
    + "|".join(sorted((re.escape(n) for n in FTYPES), key=len, reverse=True))
    + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def normalize(name: str) -> str:
    """Return the canonical spelling of a quantization type.

    Args:
        name: Any case, e.g. ``q4_k_m`` or ``f16``; ``FP16`` and ``FP32`` are
            accepted for the full-precision types.

    Returns:
        The canonical name, e.g. ``Q4_K_M``.

    Raises:
        ValueError: Not a type llama.cpp knows.
    """
    key = name.strip().upper().replace("-", "_")
    key = {"FP16": "F16", "FP32": "F32"}.get(key, key)
    if key not in _BY_UPPER:
        raise ValueError(f"unknown quantization type {name!r}; known: {', '.join(quantize_targets())}")
    return _BY_UPPER[key]


def ftype_id(name: str) -> int:
    """Return llama.cpp's ``llama_ftype`` value for a type name."""
    return FTYPES[normalize(name)]


def from_filename(filename: str) -> str | None:
    """Return the quantization type a GGUF file name states, if any.

    ``codegemma-7b-it-Q4_K_M.gguf`` gives ``Q4_K_M``; ``codegemma-7b.gguf``
    gives None (the official repositories leave full precision unnamed).
    """
    stem = filename.rsplit("/", 1)[-1]
    matches = _PATTERN.findall(stem.replace(".", "-"))
    return _BY_UPPER[matches[-1].upper()] if matches else None


def is_full_precision(name: str | None) -> bool:
    """Whether a file type is unquantized (F32, F16 or BF16)."""
    return name is not None and name.upper() in FULL_PRECISION


def quantize_targets() -> list[str]:
    """Types offered as quantize outputs: the recommended ones, then the rest."""
    rest = [n for n in FTYPES if n not in RECOMMENDED and n not in NEEDS_IMATRIX and n not in FULL_PRECISION]
    return list(RECOMMENDED) + rest


def bits_per_weight(name: str) -> float:
    """Approximate bits per weight of a type, for size estimates before quantizing."""
    table = {
        "F32": 32,
        "F16": 16,
        "BF16": 16,
        "Q8_0": 8.5,
        "Q6_K": 6.56,
        "Q5_K_M": 5.69,
        "Q5_K_S": 5.54,
        "Q5_0": 5.5,
        "Q5_1": 6.0,
        "Q4_K_M": 4.85,
        "Q4_K_S": 4.58,
        "Q4_0": 4.5,
        "Q4_1": 5.0,
        "IQ4_NL": 4.5,
        "IQ4_XS": 4.25,
        "Q3_K_L": 4.27,
        "Q3_K_M": 3.91,
        "Q3_K_S": 3.5,
        "IQ3_S": 3.44,
        "IQ3_M": 3.66,
        "IQ3_XS": 3.3,
        "Q2_K": 2.96,
        "Q2_K_S": 2.6,
        "TQ1_0": 1.69,
        "TQ2_0": 2.06,
    }
    return table.get(normalize(name), 4.5)
