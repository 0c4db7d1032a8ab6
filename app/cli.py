"""The ``fimble`` command: the GUI by default, and headless subcommands.

No Qt is imported here unless the GUI is started. Every user error prints
one line, ``fimble: error: …``, on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

from app import __version__
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams

EXIT_USAGE = 2
COMMANDS = ("inspect", "complete", "chat", "models", "quantize", "remote", "serve")


class UsageError(Exception):
    """A user error: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors raise ``UsageError`` instead of printing usage."""

    def error(self, message: str):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for ``fimble``."""
    parser = OneLineParser(prog="fimble", description="Offline coding assistant on local GGUF models.")
    parser.add_argument("--version", action="version", version=f"fimble {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load a tiny model through an engine host, generate, and exit 0 on success",
    )
    commands = parser.add_subparsers(dest="command", parser_class=OneLineParser)

    inspect = commands.add_parser("inspect", help="show a GGUF model's metadata")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument("--ctx", type=int, default=4096, help="context length for the memory estimate")

    from app import cli_models, cli_remote, cli_serve

    complete = commands.add_parser("complete", help="fill in the middle between a prefix and a suffix")
    _engine_choice(complete)
    prefix = complete.add_mutually_exclusive_group(required=True)
    prefix.add_argument("--prefix")
    prefix.add_argument("--prefix-file")
    suffix = complete.add_mutually_exclusive_group()
    suffix.add_argument("--suffix")
    suffix.add_argument("--suffix-file")
    complete.add_argument("--path", default="", help="the file's path, given to models that use it")
    _common(complete, default_tokens=64)

    chat = commands.add_parser("chat", help="ask a chat model one question and stream the answer")
    _engine_choice(chat)
    chat.add_argument("--system")
    chat.add_argument("message")
    _common(chat, default_tokens=512)

    cli_models.add_commands(commands)
    cli_remote.add_commands(commands)
    cli_serve.add_commands(commands)
    return parser


def _engine_choice(parser: argparse.ArgumentParser) -> None:
    """``--model PATH`` (a local GGUF) or ``--remote URL`` (an OpenAI-compatible server) and its options."""
    from app import cli_remote

    engine = parser.add_mutually_exclusive_group(required=True)
    engine.add_argument("--model", help="a local GGUF model")
    engine.add_argument("--remote", metavar="URL", help="an OpenAI-compatible server, e.g. http://gpu-box:8000")
    cli_remote.add_remote_options(parser)


def _common(parser: argparse.ArgumentParser, default_tokens: int) -> None:
    parser.add_argument("--max-tokens", type=int, default=default_tokens)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--ctx", type=int, default=4096, help="context length in tokens")
    parser.add_argument("--gpu-layers", type=int, default=-1, help="-1 = all, 0 = CPU only")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help='print {"tokens": [...], "pieces": [...]}, the exact prompt, without generating',
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``fimble``; return the exit status."""
    multiprocessing.freeze_support()
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS and Path(argv[0]).exists():
        from app.ui.app import run_gui  # `fimble FILE...`: open files in the GUI

        return run_gui([sys.argv[0]], files=argv)
    try:
        args = build_parser().parse_args(argv)
        if args.self_test:
            from app.selftest.run import self_test

            return self_test()
        if args.command is None:
            from app.ui.app import run_gui

            return run_gui([sys.argv[0]])
        if args.command in ("models", "quantize"):
            from app import cli_models

            return cli_models.run(args)
        if args.command == "remote":
            from app import cli_remote

            return cli_remote.run(args)
        if args.command == "serve":
            from app import cli_serve

            return cli_serve.run(args)
        return {"inspect": cmd_inspect, "complete": cmd_complete, "chat": cmd_chat}[args.command](args)
    except UsageError as exc:
        print(f"fimble: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fimble: interrupted", file=sys.stderr)
        return 130


# ---- commands --------------------------------------------------------------------


def cmd_inspect(args) -> int:
    """``fimble inspect PATH [--json] [--ctx N]``."""
    if args.ctx < 1:
        raise UsageError("--ctx must be at least 1")
    model = _inspect(args.path)
    info = model.info
    memory = {
        "n_ctx": args.ctx,
        "kv_cache_bytes": model.kv_cache_bytes(args.ctx),
        "total_bytes": model.memory_estimate(args.ctx),
    }
    if args.json:
        print(json.dumps({**info.to_dict(), "memory": memory}, indent=2))
        return 0
    rows = [
        ("name", info.name),
        ("architecture", info.architecture),
        ("family", info.family),
        ("roles", ", ".join(info.roles) or "none"),
        ("file type", info.file_type),
        ("parameters", f"{info.parameters / 1e6:.1f} M"),
        ("context length", info.context_length),
        ("chat template", "yes" if info.has_chat_template else "no"),
        ("FIM tokens", json.dumps(info.fim) if info.fim else "none"),
        ("size", f"{info.size_bytes / 2**20:.1f} MiB"),
        (
            "memory",
            f"{memory['total_bytes'] / 2**20:.0f} MiB at {args.ctx} tokens"
            f" (KV cache {memory['kv_cache_bytes'] / 2**20:.0f} MiB)",
        ),
    ]
    for key, value in rows:
        print(f"{key:>15}: {value}")
    return 0


def _inspect(path: str):
    from app.core.models.gguf_file import GGUFError  # gguf and numpy: not on the GUI's start path
    from app.core.models.info import inspect_model

    try:
        return inspect_model(path)
    except GGUFError as exc:
        raise UsageError(str(exc)) from None


def _read_text(value: str | None, file: str | None) -> str:
    if file is None:
        return value or ""
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None


def _sampling(args, default_temperature: float) -> Sampling:
    if args.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    temperature = default_temperature if args.temperature is None else args.temperature
    try:
        return Sampling(max_tokens=args.max_tokens, temperature=temperature)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_complete(args) -> int:
    """``fimble complete``: print the middle."""
    info = _inspect(args.model).info if args.model else None
    if info is not None and info.fim is None:
        raise UsageError(
            f"{info.name} has no fill-in-the-middle tokens; use a completion model"
            " such as CodeGemma 2B/7B or Code Llama 7B/13B"
        )
    request = FimRequest(
        prefix=_read_text(args.prefix, args.prefix_file),
        suffix=_read_text(args.suffix, args.suffix_file),
        path=args.path,
        sampling=_sampling(args, 0.0),
    )
    return _run(args, request, trailing_newline=False)


def cmd_chat(args) -> int:
    """``fimble chat``: stream the reply."""
    info = _inspect(args.model).info if args.model else None
    if info is not None and not info.can_chat:
        raise UsageError(
            f"{info.name} is not a chat model (no chat template or turn tokens);"
            " use an instruction-tuned model such as CodeGemma 7B-it"
        )
    from app.core.generation.families.transcript import transcript_notice, uses_transcript

    if info is not None and uses_transcript(info.family, info.has_chat_template):
        print(f"fimble: {transcript_notice(info.name)}", file=sys.stderr)
    messages = ([ChatMessage("system", args.system)] if args.system else []) + [ChatMessage("user", args.message)]
    return _run(args, ChatRequest(tuple(messages), _sampling(args, 0.7)), trailing_newline=True)


def _run(args, request, trailing_newline: bool) -> int:
    from app.core.paths import engine_log_path
    from app.engine.client import EngineError
    from app.engine.host_client import HostEngine

    try:
        params = LoadParams(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.remote:
        from app import cli_remote

        engine = cli_remote.connect(args, args.remote, "cli")
    else:
        engine = HostEngine("cli", log_path=engine_log_path("cli"))
    try:
        if not args.remote:
            engine.start()
            engine.load(args.model, params, vocab_only=args.dry_run)
        if args.dry_run:
            if args.remote:  # the exact request body the server would get
                print(json.dumps(engine.body(request)))
                return 0
            tokens, pieces = engine.build_prompt(request)
            print(json.dumps({"tokens": tokens, "pieces": pieces}))
            return 0
        stats = None
        for item in engine.generate(1, request):
            if isinstance(item, GenerationStats):
                stats = item
            else:
                sys.stdout.write(item)
                sys.stdout.flush()
        if trailing_newline:
            sys.stdout.write("\n")
        if stats is not None and stats.finish_reason == "length":
            print(f"fimble: stopped at --max-tokens {args.max_tokens}", file=sys.stderr)
        return 0
    except EngineError as exc:
        raise UsageError(exc.message) from None
    finally:
        engine.close()


if __name__ == "__main__":
    sys.exit(main())
