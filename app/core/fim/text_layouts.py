"""FIM prompts that arrive already laid out as text, as editor plugins without a suffix field send them.

Continue's autocomplete, for one, writes the model's FIM template into the
``prompt`` of ``/v1/completions`` (``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>``
for CodeGemma, ``<PRE> P <SUF>S <MID>`` for Code Llama, StarCoder's markers
for a model it does not know). Typed as text, those markers would be
tokenized as text, and the model would see no FIM at all. ``split_fim_text``
finds such a layout and gives back the prefix and suffix, so that the server
lays them out again in the loaded model's own format, by token id.
"""

from __future__ import annotations

# (prefix marker, suffix marker, middle marker, spaces the layout puts around the prefix)
_LAYOUTS = (
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", False),
    ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", False),
    ("<PRE>", "<SUF>", "<MID>", True),
)


def split_fim_text(prompt: str) -> tuple[str, str] | None:
    """The (prefix, suffix) of a prompt laid out prefix-suffix-middle with known FIM markers, else None.

    Each marker must appear once, in that order. Text before the prefix
    marker (file names, other files) stays in front of the prefix, and text
    after the middle marker (the start of the answer) joins the prefix.
    """
    for pre, suf, mid, spaced in _LAYOUTS:
        if any(prompt.count(marker) != 1 for marker in (pre, suf, mid)):
            continue
        start, cut, end = prompt.index(pre), prompt.index(suf), prompt.index(mid)
        if not start < cut < end:
            continue
        prefix = prompt[start + len(pre) : cut]
        suffix = prompt[cut + len(suf) : end]
        if spaced:  # "<PRE> P <SUF>S <MID>"
            prefix = prefix.removeprefix(" ").removesuffix(" ")
            suffix = suffix.removesuffix(" ")
        return prompt[:start] + prefix + prompt[end + len(mid) :], suffix
    return None
