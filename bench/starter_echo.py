"""``bench starter-echo``: how often the starter model recites its instructions, before and after transcript mode.

The starter (Gemma 3 270M) is a base model with no chat template. Laid out
in Gemma turn tokens it was never trained on (the earlier layout), it tends
to recite the system prompt instead of answering. As a plain-text
transcript (families/transcript) it continues the assistant's turn.

Both layouts answer the same coding questions with the app's default system
prompt, greedily, through the engine's own runner (in this process), so the
stop tokens, stop strings and repetition guard are the app's. An answer
echoes when it repeats ``ECHO_WORDS`` or more consecutive words of the
system prompt or of the transcript's preamble and example exchange.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.generation.contracts import GenerationStats

ECHO_WORDS = 8
MAX_TOKENS = 160
QUICK_QUESTIONS = 4

QUESTIONS = (
    "Write a Python function that reverses a string.",
    "How do I sort a list of dictionaries by a key in Python?",
    "What does `git rebase -i` do?",
    "Write a SQL query that counts orders per customer in an `orders` table.",
    "In JavaScript, how do I debounce a function?",
    "Explain the difference between a list and a tuple in Python.",
    "Write a Bash one-liner that counts the lines of every .py file in a folder.",
    "How do I read a JSON file in Go?",
    "Write a regular expression that matches an ISO date like 2024-05-17.",
    "What is a race condition, and how can a mutex prevent one?",
    "Write a C function that returns the length of a string without strlen.",
    "How do I make an HTTP GET request in Python with the requests library?",
    "Write a Rust function that sums a vector of integers.",
    "Why does `0.1 + 0.2 == 0.3` print False in Python?",
    "How do I remove duplicates from an array in JavaScript?",
    "Write a Python class for a stack with push, pop and peek.",
    "What does the `static` keyword mean in Java?",
    "How do I undo the last git commit but keep the changes?",
    "Write a TypeScript interface for a user with a name, an email and an optional age.",
    "How can I find the largest file in a directory tree on Linux?",
)


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, punctuation left out."""
    return re.findall(r"[a-z0-9']+", text.lower())


def echoes(answer: str, sources: Iterable[str], run: int = ECHO_WORDS) -> bool:
    """Say whether ``answer`` repeats ``run`` or more consecutive words of any of ``sources``."""
    seen = {tuple(w[i : i + run]) for w in map(words, sources) for i in range(len(w) - run + 1)}
    said = words(answer)
    return any(tuple(said[i : i + run]) in seen for i in range(len(said) - run + 1))


def echo_sources(system_prompt: str) -> tuple[str, ...]:
    """What an answer must not recite: the system prompt, the preamble and the example exchange."""
    from app.core.generation.families import transcript

    return (
        system_prompt,
        transcript.PREAMBLE + " " + transcript.SYSTEM_LEAD,
        transcript.EXAMPLE_QUESTION,
        transcript.EXAMPLE_ANSWER,
    )


def _answers(runner, family, questions: tuple[str, ...], system_prompt: str) -> list[tuple[str, GenerationStats]]:
    """Answer each question alone, under ``family``'s chat layout; (text, stats) per question."""
    from app.core.chat.defaults import default_sampling
    from app.core.generation.contracts import ChatMessage, ChatRequest

    runner.model.family = family  # the layout (and stop strings) the runner uses from now on
    sampling = replace(default_sampling("generic"), max_tokens=MAX_TOKENS, temperature=0.0, seed=0)
    results = []
    for question in questions:
        request = ChatRequest((ChatMessage("system", system_prompt), ChatMessage("user", question)), sampling)
        results.append(runner.generate(request, lambda _piece: None))
    return results


def _summary(results: list[tuple[str, GenerationStats]], sources: tuple[str, ...]) -> dict:
    count = len(results)
    return {
        "echo_fraction": round(sum(echoes(text, sources) for text, _ in results) / count, 3),
        "turn_marker_fraction": round(sum("User:" in text for text, _ in results) / count, 3),
        "stopped_fraction": round(sum(stats.finish_reason == "stop" for _, stats in results) / count, 3),
        "mean_tokens": round(sum(stats.generated_tokens for _, stats in results) / count, 1),
    }


def run(quick: bool) -> dict:
    """Answer the questions under both layouts; return each side's echo fraction and more."""
    from app.core.chat.defaults import DEFAULT_SYSTEM_PROMPT
    from app.core.generation.families.generic import Generic
    from app.core.models.load_params import LoadParams
    from app.core.models.starter import starter_model_path
    from app.engine.runner import ModelRunner

    questions = QUESTIONS[:QUICK_QUESTIONS] if quick else QUESTIONS
    sources = echo_sources(DEFAULT_SYSTEM_PROMPT)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        model = starter_model_path(Path(folder))
        runner = ModelRunner(threading.Event())
        runner.load(str(model), LoadParams(n_ctx=2048), False, lambda _fraction: None)
        try:
            if runner.model is None or runner.model.chat_template is not None:
                raise RuntimeError("the starter model is expected to have no chat template")
            before = _answers(runner, Generic(transcript=False), questions, DEFAULT_SYSTEM_PROMPT)
            after = _answers(runner, Generic(transcript=True), questions, DEFAULT_SYSTEM_PROMPT)
        finally:
            runner.unload()
    old, new = _summary(before, sources), _summary(after, sources)
    return {
        "echo_fraction_before": old["echo_fraction"],
        "echo_fraction_after": new["echo_fraction"],
        "questions": len(questions),
        "echo_words": ECHO_WORDS,
        "max_tokens": MAX_TOKENS,
        "turn_marker_fraction_before": old["turn_marker_fraction"],
        "turn_marker_fraction_after": new["turn_marker_fraction"],
        "stopped_fraction_before": old["stopped_fraction"],
        "stopped_fraction_after": new["stopped_fraction"],
        "mean_tokens_before": old["mean_tokens"],
        "mean_tokens_after": new["mean_tokens"],
        "model": model.name,
        "seconds": round(time.perf_counter() - started, 1),
    }
