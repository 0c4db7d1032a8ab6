"""``python -m bench NAME [--quick] [--json] [options of that benchmark]``.

Benchmarks: startup, engine, fim, chat, download, markdown, soak, remote, serve, bigfile.

Options: ``--size-mb N`` (download), ``--minutes N --seed S --load K --keep``
(soak), ``--file F --model M --seed S`` (fim).

Runs one benchmark. Its result is printed as one JSON object on stdout:
compact on a single line with ``--json``, indented otherwise. Errors are one
line on stderr, ``bench: error: …``; an unknown benchmark or a bad argument
exits with status 2, a benchmark that fails with status 1. A result whose
``ok`` is false (the soak found a crash, a warning, a lost message or a
leaked process) is printed and exits with status 1.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from app.cli import OneLineParser, UsageError

# Benchmark name -> module with a ``run(quick: bool) -> dict`` function.
BENCHMARKS = {
    "startup": "bench.startup",
    "engine": "bench.engine",
    "fim": "bench.fim",
    "chat": "bench.chat",
    "download": "bench.download",
    "markdown": "bench.markdown",
    "soak": "bench.soak",
    "remote": "bench.remote",
    "serve": "bench.serve",
    "screenshot": "bench.screenshot",
    "starter-echo": "bench.starter_echo",
    "bigfile": "bench.bigfile",
}
# Options only some benchmarks take: keyword -> the benchmarks that take it.
OPTION_OWNERS = {
    "size_mb": ("download",),
    "minutes": ("soak",),
    "seed": ("soak", "fim"),
    "load": ("soak",),
    "keep": ("soak",),
    "file": ("fim",),
    "model": ("fim",),
    "jumps_only": ("fim",),
}

EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> OneLineParser:
    """Return the argument parser for ``python -m bench``."""
    parser = OneLineParser(prog="bench", description="Run one of Fimble's benchmarks.")
    parser.add_argument("name", help=f"the benchmark: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="take fewer samples")
    parser.add_argument("--json", action="store_true", help="print the JSON object on one line")
    parser.add_argument("--size-mb", type=int, default=None, help="file size for the download benchmark (default 300)")
    parser.add_argument("--minutes", type=float, default=None, help="soak: how long to drive the window (default 3)")
    parser.add_argument(
        "--seed", type=int, default=None, help="soak, fim: seed of the random actions or edits (soak: random)"
    )
    parser.add_argument("--file", default=None, help="fim: a source file to edit (default: Python's queue.py)")
    parser.add_argument("--model", default=None, help="fim: a GGUF model (default: the starter model)")
    parser.add_argument(
        "--jumps-only",
        action="store_true",
        default=None,
        help="fim: only the jumping session (for slow models, where the fixed-window sessions take long)",
    )
    parser.add_argument(
        "--load",
        type=int,
        default=None,
        help="soak: busy-loop processes competing for the CPU (default: the number of cores)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        default=None,
        help="soak: keep the run's folder (event log, stderr, home) even when all went well",
    )
    return parser


def run_benchmark(name: str, quick: bool, **options: object) -> dict:
    """Import the benchmark ``name`` and run it.

    Args:
        name: A key of ``BENCHMARKS``.
        quick: Ask the benchmark for a shorter run.
        **options: Keywords of ``OPTION_OWNERS`` for the benchmarks that take
            them (``size_mb`` for download; ``minutes``, ``seed``, ``load``,
            ``keep`` for soak; ``file``, ``model``, ``seed``, ``jumps_only`` for fim); None
            values are left out.

    Returns:
        The benchmark's result.

    Raises:
        UsageError: ``name`` is not a known benchmark, or an option is given
            to a benchmark that does not take it or is out of range.
    """
    if name not in BENCHMARKS:
        raise UsageError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        owners = OPTION_OWNERS[key]
        if name not in owners:
            raise UsageError(f"--{key.replace('_', '-')} only applies to the {' and '.join(owners)} benchmark")
    _check_options(given)
    module = importlib.import_module(BENCHMARKS[name])
    return module.run(quick, **given)


def _check_options(given: dict[str, object]) -> None:
    """Refuse values no benchmark can use, with one line."""
    numbers = {key: float(str(value)) for key, value in given.items() if key in ("size_mb", "minutes", "load")}
    if numbers.get("size_mb", 1) <= 0:
        raise UsageError("--size-mb must be a positive number of MiB")
    if numbers.get("minutes", 1) <= 0:
        raise UsageError("--minutes must be more than 0")
    if numbers.get("load", 0) < 0:
        raise UsageError("--load must be 0 or more")
    for key in ("file", "model"):
        if key in given and not Path(str(given[key])).is_file():
            raise UsageError(f"--{key}: {given[key]} is not a file")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = build_parser().parse_args(argv)
        result = run_benchmark(args.name, args.quick, **{key: getattr(args, key) for key in OPTION_OWNERS})
    except UsageError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (RuntimeError, OSError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return EXIT_FAILED if result.get("ok") is False else 0


if __name__ == "__main__":
    sys.exit(main())
