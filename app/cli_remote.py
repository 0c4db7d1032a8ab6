"""``fimble remote test URL`` and the ``--remote`` options of ``fimble chat`` and ``fimble complete``.

A remote engine is an OpenAI-compatible server (llama-server, TGI, vLLM,
Ollama, LM Studio, Inference Endpoints, llama-cpp-python's server). The API
key is read from an environment variable named on the command line, never
from the command line itself, so it does not land in the shell history.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from app.cli import UsageError
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams

SAMPLE_TOKENS = 5


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """``--api-key-env``, ``--remote-model`` and ``--family`` (``--remote`` itself goes beside ``--model``)."""
    parser.add_argument("--api-key-env", metavar="VAR", help="the environment variable that holds the API key")
    parser.add_argument("--remote-model", metavar="NAME", help="the model on the server (default: the one it serves)")
    parser.add_argument(
        "--family", choices=("codegemma", "codellama", "generic"), help="the prompt family (default: from the model id)"
    )


def add_commands(commands) -> None:
    """Add ``remote test`` to the ``fimble`` subcommand parsers."""
    remote = commands.add_parser("remote", help="check a remote engine (an OpenAI-compatible server)")
    actions = remote.add_subparsers(dest="remote_command", parser_class=type(remote), required=True)
    check = actions.add_parser("test", help="show the server's kind, model, context, round trip and a short sample")
    check.add_argument("url")
    add_remote_options(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")


def api_key(args: argparse.Namespace) -> str | None:
    """The API key from ``--api-key-env``'s variable; a one-line error when it is unset or empty."""
    name = getattr(args, "api_key_env", None)
    if not name:
        return None
    value = os.environ.get(name, "")
    if not value.strip():
        raise UsageError(f"--api-key-env {name}: that environment variable is not set or empty")
    return value.strip()


def connect(args: argparse.Namespace, url: str, role: str):
    """A started and loaded ``RemoteEngine`` for ``url``, or a one-line ``UsageError``."""
    from app.engine.client import EngineError
    from app.engine.remote.engine import RemoteEngine

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url}: give the server's URL with http:// or https://")
    engine = RemoteEngine(role, url, api_key(args), family=getattr(args, "family", None))
    try:
        engine.start()
        engine.load(getattr(args, "remote_model", None) or "", LoadParams())
    except EngineError as exc:
        engine.close()
        raise UsageError(exc.message) from None
    return engine


def run(args: argparse.Namespace) -> int:
    """``fimble remote test URL``: what the window's Test connection shows."""
    from app.engine.client import EngineError

    engine = connect(args, args.url, "test")
    try:
        facts = engine.facts
        assert facts is not None
        round_trip = engine.round_trip_ms()
        fim = engine.offers_fim
        sampling = Sampling(max_tokens=SAMPLE_TOKENS, temperature=0.0)
        request: FimRequest | ChatRequest = (
            FimRequest("def add(a, b):\n    return ", "\n", sampling=sampling)
            if fim
            else ChatRequest((ChatMessage("user", "Say hello."),), sampling)
        )
        started = time.perf_counter()
        sample = "".join(item for item in engine.generate(1, request) if not isinstance(item, GenerationStats))
        sample_ms = (time.perf_counter() - started) * 1000
    except EngineError as exc:
        raise UsageError(exc.message) from None
    finally:
        engine.close()
    result = {
        "server": facts.kind.label,
        "model": engine.model_id,
        "family": engine.family,
        "context_length": facts.context_length,
        "round_trip_ms": round(round_trip, 1),
        "sample": sample,
        "sample_ms": round(sample_ms, 1),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    context = f"{facts.context_length:,} tokens" if facts.context_length else "not reported"
    rows = [
        ("server", facts.kind.label),
        ("model", f"{engine.model_id} ({engine.family})"),
        ("context", context),
        ("round trip", f"{round_trip:.0f} ms"),
        ("sample", f"{sample!r} in {sample_ms:.0f} ms ({'FIM' if fim else 'chat'}, {SAMPLE_TOKENS} tokens)"),
    ]
    for key, value in rows:
        print(f"{key:>10}: {value}")
    return 0
