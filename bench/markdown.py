"""``bench markdown``: render time of a long chat answer.

A deterministic answer of about 2,000 lines, shaped like what code models
write (headings, prose with inline code, links and emphasis, nested lists,
tables, block quotes and fenced code in several languages), is rendered by
Fimble's chat renderer (parse, Qt-subset HTML and Pygments highlighting, with
the highlight cache emptied before every run) and by markdown-it-py's plain
CommonMark renderer (tables and strikethrough on, no highlighting). The two
sides alternate run by run in the same process, so machine noise hits both
alike, and the medians are compared.

The streaming case feeds the same answer in equal chunks, as a chat view
re-renders it while it streams: once rendering the whole text so far at every
chunk, once with ``StreamingRender``, which re-renders only the end (each side
starting with an empty highlight cache); the totals are compared, and the last
incremental result is checked against a full render.
"""

from __future__ import annotations

import statistics
import time

from markdown_it import MarkdownIt

from app.core.markdown.highlight import highlight, warm_up
from app.core.markdown.render import render
from app.core.markdown.stream import StreamingRender

QUICK_RUNS = 3
FULL_RUNS = 5
TARGET_LINES = 2000
STREAM_CHUNKS = 400
QUICK_STREAM_CHUNKS = 100

_PYTHON = '''def load_{n}(path: str) -> dict[str, int]:
    """Read the counts file number {n}."""
    counts: dict[str, int] = {{}}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word, _, value = line.partition("\\t")
            counts[word] = counts.get(word, 0) + int(value or 0)  # sum repeats
    return counts


class Cache{n}:
    def __init__(self, size: int = {n}) -> None:
        self.size = size
        self.items: list[str] = []

    def add(self, item: str) -> None:
        if len(self.items) >= self.size:
            self.items.pop(0)
        self.items.append(item)'''

_JS = """export async function fetchPage{n}(url, retries = {n}) {{
  for (let attempt = 0; attempt <= retries; attempt++) {{
    const response = await fetch(url, {{ headers: {{ "Accept": "text/html" }} }});
    if (response.ok) {{
      return await response.text();
    }}
    console.warn(`attempt ${{attempt}} failed: ${{response.status}}`);
  }}
  throw new Error("gave up after " + retries + " retries");
}}"""

_RUST = """use std::collections::HashMap;

fn tally_{n}(words: &[&str]) -> HashMap<String, usize> {{
    let mut counts = HashMap::new();
    for word in words {{
        *counts.entry(word.to_string()).or_insert(0) += {n};
    }}
    counts
}}"""

_BASH = """#!/usr/bin/env bash
set -euo pipefail
for file in build/*.log; do
  grep -c "error {n}" "$file" || true
done
tar czf "logs-{n}.tar.gz" build/*.log"""

_SQL = """SELECT u.name, COUNT(o.id) AS orders_{n}
FROM users AS u
LEFT JOIN orders AS o ON o.user_id = u.id
WHERE o.created_at > '2024-01-{day:02d}'
GROUP BY u.name
HAVING COUNT(o.id) > {n}
ORDER BY orders_{n} DESC;"""

_GO = """package main

import "fmt"

func sum{n}(values []int) int {{
	total := 0
	for _, v := range values {{
		total += v * {n}
	}}
	return total
}}

func main() {{
	fmt.Println(sum{n}([]int{{1, 2, 3}}))
}}"""

_CODE = (("python", _PYTHON), ("javascript", _JS), ("rust", _RUST), ("bash", _BASH), ("sql", _SQL), ("go", _GO))


def _section(n: int) -> str:
    """One section of the answer; ``n`` varies names so code blocks differ."""
    language, template = _CODE[n % len(_CODE)]
    code = template.format(n=n, day=n % 28 + 1)
    return f"""## Step {n}: handling the *{language}* part

The function `load_{n}` reads the file **once** and keeps the counts in a dict.
See [the documentation](https://docs.example.org/guide/{n}#counts) or
<https://example.com/issues/{n}> for details; ~~the old loader~~ is gone, and
_every_ call to `Cache{n}.add()` drops the oldest item when the cache is full.
Note that `x * y` and snake_case_names like `max_items_{n}` are not emphasis.

1. Install the tools:
   - `pip install counts-{n}`
   - or build from source with `make -j{n % 8 + 1}`
2. Run the tests with **pytest** and check the *coverage*.
3. Read the notes below.

```{language}
{code}
```

| Option | Default | Meaning |
|:-------|:-------:|--------:|
| `size` | {n} | Items kept in the cache |
| `retries` | {n % 5} | Attempts before giving up |
| `strict` | **no** | Refuse unknown keys |
| `path` | `~/.cache/app-{n}` | Where the files live |

> **Tip:** keep the cache small; a `size` above {n * 10} rarely helps,
> and it costs memory.

- Short item with a [link](https://example.com/{n}).
- Another item that wraps
  onto a second line.
  - A nested item with `code`.

---
"""


def answer(target_lines: int = TARGET_LINES) -> str:
    """Return a realistic assistant answer of about ``target_lines`` lines."""
    sections = ["# Answer\n\nHere is a walk-through of the whole change, step by step.\n"]
    lines = 3
    n = 1
    while lines < target_lines:
        section = _section(n)
        sections.append(section)
        lines += section.count("\n") + 1
        n += 1
    return "\n".join(sections)


def stream(text: str, chunks: int) -> dict:
    """Time re-rendering ``text`` after each of ``chunks`` equal chunks: whole text vs its end only.

    Returns:
        Both totals in milliseconds, their ratio, how many incremental steps
        rendered everything, and whether the last results are identical.
    """
    ends = [len(text) * (i + 1) // chunks for i in range(chunks)]
    highlight.cache_clear()
    start = time.perf_counter()
    for end in ends:
        full = render(text[:end])
    full_ms = (time.perf_counter() - start) * 1000
    highlight.cache_clear()
    streaming = StreamingRender()
    start = time.perf_counter()
    for end in ends:
        incremental = streaming.render(text[:end])
    incremental_ms = (time.perf_counter() - start) * 1000
    return {
        "stream_full_ms": round(full_ms, 1),
        "stream_incremental_ms": round(incremental_ms, 1),
        "stream_ratio": round(full_ms / incremental_ms, 1),
        "stream_chunks": chunks,
        "stream_full_renders": streaming.full_renders,
        "stream_identical": incremental == full,
    }


def run(quick: bool) -> dict:
    """Time Fimble's renderer against markdown-it-py's plain renderer.

    Args:
        quick: Take fewer samples.

    Returns:
        Both medians in milliseconds, their ratio, the samples and the input's
        size, and the streaming case's totals (see ``stream``).
    """
    text = answer()
    baseline = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    warm_up()
    render(text)  # import every lexer the answer needs
    baseline.render(text)
    runs = QUICK_RUNS if quick else FULL_RUNS
    samples: dict[str, list[float]] = {"fimble": [], "baseline": []}
    cached: list[float] = []
    code_blocks = 0
    for _ in range(runs):
        highlight.cache_clear()
        start = time.perf_counter()
        code_blocks = len(render(text).code_blocks)
        samples["fimble"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        baseline.render(text)
        samples["baseline"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        render(text)  # highlight cache full, as in a streaming re-render
        cached.append((time.perf_counter() - start) * 1000)
    fimble_ms = statistics.median(samples["fimble"])
    baseline_ms = statistics.median(samples["baseline"])
    return {
        "render_ms": round(fimble_ms, 1),
        "baseline_ms": round(baseline_ms, 1),
        "ratio": round(fimble_ms / baseline_ms, 2),
        "render_cached_ms": round(statistics.median(cached), 1),
        "runs": runs,
        "render_samples_ms": [round(value, 1) for value in samples["fimble"]],
        "baseline_samples_ms": [round(value, 1) for value in samples["baseline"]],
        "lines": text.count("\n") + 1,
        "chars": len(text),
        "code_blocks": code_blocks,
        **stream(text, QUICK_STREAM_CHUNKS if quick else STREAM_CHUNKS),
    }
