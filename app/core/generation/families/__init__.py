"""Model families, detected from what a GGUF holds, never from its file name."""

from __future__ import annotations

from collections.abc import Callable

from app.core.generation.families.base import Family, FimTokens, PromptError
from app.core.generation.families.codegemma import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, CodeGemma
from app.core.generation.families.codellama import EOT, MID, PRE, SUF, CodeLlama
from app.core.generation.families.generic import FILE_SEPARATOR, MIDDLE, PREFIX, SUFFIX, Generic
from app.core.generation.families.turns import END_OF_TURN, IM_END, IM_START, START_OF_TURN

FAMILIES: dict[str, Family] = {f.name: f for f in (CodeGemma(), CodeLlama(), Generic())}

# Spellings with a control meaning in some family. A vocabulary may mark them
# USER_DEFINED, which llama.cpp matches even in plain text, so prompt builders
# treat them as special whatever their token type.
MARKER_SPELLINGS = frozenset(
    {*PREFIX, *SUFFIX, *MIDDLE, *FILE_SEPARATOR, *PRE, *SUF, *MID, *EOT, START_OF_TURN, END_OF_TURN, IM_START, IM_END}
)

__all__ = ["MARKER_SPELLINGS", "FAMILIES", "Family", "FimTokens", "PromptError", "detect_family", "get_family"]


def detect_family(architecture: str, name: str, has_token: Callable[[str], bool]) -> Family:
    """Pick the family of a model from its GGUF metadata and vocabulary.

    Args:
        architecture: ``general.architecture`` (``gemma``, ``llama``, …).
        name: ``general.name``, or "" when absent.
        has_token: Says whether the vocabulary holds a token spelled exactly so.

    Returns:
        The family; ``Generic`` when nothing more specific fits.
    """
    arch = architecture.lower()
    lowered = name.lower().replace(" ", "")
    gemma_fim = all(has_token(t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE))
    if arch.startswith("gemma") and (gemma_fim or "codegemma" in lowered):
        return FAMILIES["codegemma"]
    llama_fim = all(any(has_token(s) for s in spellings) for spellings in (PRE, SUF, MID))
    if arch == "llama" and (llama_fim or "codellama" in lowered):
        return FAMILIES["codellama"]
    return FAMILIES["generic"]


def get_family(name: str) -> Family:
    """Return the family registered under ``name``."""
    return FAMILIES[name]
