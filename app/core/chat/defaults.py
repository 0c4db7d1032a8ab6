"""Chat defaults: the system prompt, sampling per model family, editor prompts."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from typing import Any

from app.core.generation.contracts import Sampling

DEFAULT_SYSTEM_PROMPT = (
    "You are a careful programming assistant working offline inside a code editor. "
    "Answer briefly and precisely. Put code in fenced blocks tagged with the language, "
    "and show only the code that changes unless asked for the whole file. "
    "Follow the style of the code you are given. If a question is ambiguous or you "
    "are unsure, say so instead of guessing, and never invent APIs."
)

# Low temperatures suit code: a wrong token breaks it, and the instruction-tuned
# code models were tuned for near-greedy decoding. min_p 0.05 cuts the long tail
# of unlikely tokens at any temperature, and a mild repeat penalty (1.1) curbs the
# loops small quantized models fall into without mangling code, which repeats
# names and brackets legitimately.
_CHAT_MAX_TOKENS = 1024
_FAMILY_SAMPLING = {
    # CodeGemma instruct: a little warmth keeps explanations from going flat.
    "codegemma": Sampling(
        max_tokens=_CHAT_MAX_TOKENS, temperature=0.3, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1
    ),
    # Code Llama Instruct: Meta's own examples sample at 0.2 / top_p 0.95.
    "codellama": Sampling(
        max_tokens=_CHAT_MAX_TOKENS, temperature=0.2, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1
    ),
    # General chat models are tuned for more varied prose.
    "generic": Sampling(
        max_tokens=_CHAT_MAX_TOKENS, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.1
    ),
}

TEMPLATE_LABELS: dict[str, str] = {
    "ask": "Ask about selection",
    "explain": "Explain",
    "tests": "Write tests",
    "fix": "Fix",
    "docstring": "Add docstring",
}

_CODE_BLOCK = "{fence}{language}\n{code}\n{fence}"

TEMPLATES: dict[str, str] = {
    "ask": "About this code from {path} (lines {start_line}-{end_line}):\n\n" + _CODE_BLOCK + "\n\nQuestion: ",
    "explain": "Explain what this code from {path} (lines {start_line}-{end_line}) does, "
    "step by step, and point out anything surprising:\n\n" + _CODE_BLOCK,
    "tests": "Write unit tests for this code from {path} (lines {start_line}-{end_line}). "
    "Use the test framework the project most likely uses, cover normal cases, "
    "edge cases and errors, and give the tests as one code block:\n\n" + _CODE_BLOCK,
    "fix": "Find the bugs in this code from {path} (lines {start_line}-{end_line}). "
    "Explain each in one sentence, then give the corrected code as one code block:"
    "\n\n" + _CODE_BLOCK,
    "docstring": "Write a docstring for this code from {path} (lines {start_line}-{end_line}) "
    "in the usual style for {language}, describing arguments, return value "
    "and errors. Give the code with the docstring added, otherwise unchanged:"
    "\n\n" + _CODE_BLOCK,
}

# What a template may name; ``fence`` is a run of backticks longer than any in the code.
PLACEHOLDERS = frozenset({"path", "language", "start_line", "end_line", "code", "fence"})


def default_sampling(family: str) -> Sampling:
    """Return chat sampling defaults for a model family.

    Args:
        family: A family name (``"codegemma"``, ``"codellama"``, ``"generic"``);
            unknown names get the generic defaults.

    Returns:
        The family's sampling settings, with 1024 max tokens.
    """
    return _FAMILY_SAMPLING.get(family.lower(), _FAMILY_SAMPLING["generic"])


def sampling_to_dict(sampling: Sampling) -> dict[str, Any]:
    """Return ``sampling`` as a JSON-ready dict.

    Args:
        sampling: The settings to store.

    Returns:
        A dict with one entry per ``Sampling`` field.
    """
    return asdict(sampling)


def sampling_from_dict(data: Mapping[str, Any], base: Sampling | None = None) -> Sampling:
    """Return the sampling settings stored in ``data``.

    Unknown keys are ignored; missing keys keep the value of ``base``.

    Args:
        data: A dict as written by ``sampling_to_dict`` (maybe older or newer).
        base: Settings for the missing keys; ``Sampling()`` when None.

    Returns:
        The settings, checked by the ``Sampling`` constructor.

    Raises:
        ValueError: A value has the wrong type or is out of range.
    """
    base = base or Sampling()
    known = {f.name: str(f.type) for f in fields(Sampling)}
    changes = {key: _coerce(key, value, known[key]) for key, value in data.items() if key in known}
    return replace(base, **changes)


def _coerce(key: str, value: Any, kind: str) -> Any:
    """Check a stored value against its field's annotation, e.g. ``"int | None"``."""
    if value is None and "None" in kind:
        return None
    if "bool" in kind:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if "int" in kind and float(value).is_integer():
            return int(value)
        if "float" in kind:
            return float(value)
    elif not any(name in kind for name in ("int", "float", "bool")):
        return value  # a field this module does not know how to check
    raise ValueError(f"invalid stored sampling value {key}={value!r}")


def render_template(name_or_text: str, *, path: str, language: str, start_line: int, end_line: int, code: str) -> str:
    """Fill an editor prompt template with the selected code.

    Args:
        name_or_text: A key of ``TEMPLATES``, or template text the user edited.
        path: The file's path, as shown to the user.
        language: The language id, used to tag the code fence (may be "").
        start_line: The first selected line, counting from 1.
        end_line: The last selected line.
        code: The selected code; it is inserted verbatim, braces included.

    Returns:
        The prompt. A template that does not place ``{code}``, or that has
        unknown or malformed placeholders, is returned as written with the
        code block appended.
    """
    template = TEMPLATES.get(name_or_text, name_or_text)
    code = code.rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(code) + 1)
    values = {
        "path": path,
        "language": language,
        "start_line": start_line,
        "end_line": end_line,
        "code": code,
        "fence": fence,
    }
    block = _CODE_BLOCK.format(**values)
    if not _uses_code(template):
        return f"{template.rstrip()}\n\n{block}" if template.strip() else block
    try:
        return template.format(**values)
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return f"{template.rstrip()}\n\n{block}"


def _uses_code(template: str) -> bool:
    """Say whether a template is well formed, names known fields only, and places the code."""
    try:
        fields_ = [(name, spec) for _, name, spec, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return False
    if any(name not in PLACEHOLDERS or "{" in (spec or "") for name, spec in fields_):
        return False
    return any(name == "code" for name, _ in fields_)


def _longest_backtick_run(text: str) -> int:
    """Return the length of the longest run of backticks in ``text``."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest
