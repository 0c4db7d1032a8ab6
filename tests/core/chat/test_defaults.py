"""Chat defaults: system prompt, sampling per family and its storage, editor prompt templates."""

import json

import pytest

from app.core.chat.defaults import (
    DEFAULT_SYSTEM_PROMPT,
    TEMPLATE_LABELS,
    TEMPLATES,
    default_sampling,
    render_template,
    sampling_from_dict,
    sampling_to_dict,
)
from app.core.generation.contracts import Sampling
from app.core.generation.families import FAMILIES

CODE = 'def f(x):\n    return {"key": x, "set": {1, 2}}  # {not a placeholder}\n'
WHERE = {"path": "src/util.py", "language": "python", "start_line": 10, "end_line": 11}


def render(name_or_text, code=CODE):
    return render_template(name_or_text, code=code, **WHERE)


def test_system_prompt_is_short_and_about_code():
    assert 0 < len(DEFAULT_SYSTEM_PROMPT) < 600
    assert "code" in DEFAULT_SYSTEM_PROMPT.lower()


@pytest.mark.parametrize(
    "family, temperature, top_p",
    [
        ("codegemma", 0.3, 0.95),
        ("codellama", 0.2, 0.95),
        ("generic", 0.7, 0.9),
    ],
)
def test_family_defaults(family, temperature, top_p):
    sampling = default_sampling(family)
    assert isinstance(sampling, Sampling)
    assert (sampling.temperature, sampling.top_p) == (temperature, top_p)
    assert sampling.top_k == 40 and sampling.min_p == 0.05
    assert sampling.repeat_penalty == 1.1 and sampling.max_tokens == 1024


def test_every_registered_family_and_unknown_names_get_defaults():
    for name in FAMILIES:
        assert default_sampling(name).max_tokens == 1024
    assert default_sampling("mistral") == default_sampling("generic")
    assert default_sampling("CodeGemma") == default_sampling("codegemma")


def test_sampling_round_trips_through_json():
    sampling = Sampling(max_tokens=300, temperature=0.0, seed=7, time_limit_s=2.5, ignore_eos=True)
    stored = json.loads(json.dumps(sampling_to_dict(sampling)))
    assert sampling_from_dict(stored) == sampling
    for family in FAMILIES:
        assert sampling_from_dict(sampling_to_dict(default_sampling(family))) == default_sampling(family)


def test_unknown_keys_are_ignored_and_missing_ones_come_from_the_base():
    base = default_sampling("codegemma")
    sampling = sampling_from_dict({"temperature": 1, "future_knob": "x"}, base)
    assert sampling == Sampling(**{**sampling_to_dict(base), "temperature": 1.0})
    assert isinstance(sampling.temperature, float)
    assert sampling_from_dict({}) == Sampling()
    assert sampling_from_dict({"seed": None, "max_tokens": 64.0}).max_tokens == 64


@pytest.mark.parametrize(
    "data",
    [
        {"max_tokens": 0},  # refused by the Sampling constructor
        {"temperature": -1},
        {"temperature": "hot"},
        {"temperature": float("nan")},
        {"max_tokens": 1.5},
        {"top_k": True},
        {"ignore_eos": "yes"},
        {"max_tokens": None},
    ],
)
def test_invalid_stored_values_raise_value_error(data):
    with pytest.raises(ValueError):
        sampling_from_dict(data)


def test_every_template_has_a_label_and_renders():
    assert set(TEMPLATES) == set(TEMPLATE_LABELS) == {"ask", "explain", "tests", "fix", "docstring"}
    assert TEMPLATE_LABELS["ask"] == "Ask about selection"
    assert TEMPLATE_LABELS["tests"] == "Write tests"
    assert TEMPLATE_LABELS["docstring"] == "Add docstring"
    for name in TEMPLATES:
        text = render(name)
        assert "src/util.py" in text and "10" in text and "11" in text
        assert "```python\n" + CODE.rstrip("\n") + "\n```" in text


def test_braces_in_code_stay_intact():
    text = render("explain")
    assert '{"key": x, "set": {1, 2}}  # {not a placeholder}' in text
    assert render("explain", code="{path} {code} {{x}}").count("{path} {code} {{x}}") == 1


def test_a_user_edited_template_is_rendered():
    template = "In {path} ({language}), lines {start_line}–{end_line}:\n```{language}\n{code}\n```\nWhy {{braces}}?"
    text = render(template)
    assert text == ("In src/util.py (python), lines 10–11:\n```python\n" + CODE.rstrip("\n") + "\n```\nWhy {braces}?")


@pytest.mark.parametrize(
    "template",
    [
        "Explain {selection}",  # unknown placeholder
        "Explain { this",  # malformed
        "Explain } this {code}",
        "Explain {0} and {}",  # positional
        "Explain {code.upper}",  # attribute access
        "Explain {start_line:zz} {code}",  # bad format spec
        "Explain {code:{path}}",  # nested field
    ],
)
def test_a_broken_user_template_falls_back_to_appending_the_code(template):
    text = render(template)
    assert text == template + "\n\n```python\n" + CODE.rstrip("\n") + "\n```"


def test_a_template_without_code_gets_the_code_appended():
    assert render("Explain this.") == "Explain this.\n\n```python\n" + CODE.rstrip("\n") + "\n```"
    assert render("") == "```python\n" + CODE.rstrip("\n") + "\n```"


def test_the_fence_outgrows_backticks_in_the_code():
    code = "Use:\n```sh\nmake\n```"
    text = render_template("explain", path="README.md", language="markdown", start_line=1, end_line=4, code=code)
    assert "````markdown\n" + code + "\n````" in text
