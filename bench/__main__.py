"""``python -m bench NAME [--quick] [--json] [--size-mb N] [--minutes N --seed S --load K --keep]``.

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
}
# Options only the soak takes: name -> keyword of ``bench.soak.run``.
SOAK_OPTIONS = ("minutes", "seed", "load", "keep")

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
    parser.add_argument("--seed", type=int, default=None, help="soak: seed of the random actions (default: random)")
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


def run_benchmark(name: str, quick: bool, size_mb: int | None = None, **soak) -> dict:
    """Import the benchmark ``name`` and run it.

    Args:
        name: A key of ``BENCHMARKS``.
        quick: Ask the benchmark for a shorter run.
        size_mb: File size for the ``download`` benchmark.
        **soak: ``minutes``, ``seed``, ``load`` and ``keep`` for the ``soak``
            benchmark; None values are left out.

    Returns:
        The benchmark's result.

    Raises:
        UsageError: ``name`` is not a known benchmark, ``size_mb`` is given
            to a benchmark other than ``download`` or is not positive, or a
            soak option is given to another benchmark or is out of range.
    """
    if name not in BENCHMARKS:
        raise UsageError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
    if size_mb is not None:
        if name != "download":
            raise UsageError("--size-mb only applies to the download benchmark")
        if size_mb <= 0:
            raise UsageError("--size-mb must be a positive number of MiB")
    soak = {key: value for key, value in soak.items() if value is not None}
    if soak:
        if name != "soak":
            raise UsageError(f"--{next(iter(soak))} only applies to the soak benchmark")
        if soak.get("minutes", 1) <= 0:
            raise UsageError("--minutes must be more than 0")
        if soak.get("load", 0) < 0:
            raise UsageError("--load must be 0 or more")
    module = importlib.import_module(BENCHMARKS[name])
    if size_mb is not None:
        return module.run(quick, size_mb=size_mb)
    if soak:
        return module.run(quick, **soak)
    return module.run(quick)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = build_parser().parse_args(argv)
        result = run_benchmark(args.name, args.quick, args.size_mb, **{key: getattr(args, key) for key in SOAK_OPTIONS})
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
