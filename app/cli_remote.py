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

from app.cli import UsageError
from app.core.models.load_params import LoadParams


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


def base_url(url: str) -> str:
    """The server's base URL as the window's Engines dialog checks it, with the scheme required; else one line."""
    from app.core.remote.choice import check_url

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url}: give the server's URL with http:// or https://")
    try:
        return check_url(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def connect(args: argparse.Namespace, url: str, role: str):
    """A started and loaded ``RemoteEngine`` for ``url``, or a one-line ``UsageError``."""
    from app.engine.client import EngineError
    from app.engine.remote.engine import RemoteEngine

    engine = RemoteEngine(role, base_url(url), api_key(args), family=getattr(args, "family", None))
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
    from app.engine.remote.check import ConnectionCheck

    check = ConnectionCheck(base_url(args.url), api_key(args), args.remote_model or "", args.family)
    try:
        report = check.run()
    except EngineError as exc:
        raise UsageError(exc.message) from None
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    for key, value in report.rows():
        print(f"{key:>10}: {value}")
    return 0
