"""``fimble serve``: the chat and completion models on an OpenAI-compatible API, without the window.

Safe by default: it listens on 127.0.0.1, needs the bearer token kept in the
config folder (0600), answers only to its own host names, and allows no CORS
origins. A non-loopback ``--host`` needs ``--yes-expose``; ``--no-auth`` is
refused there.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

from app.cli import UsageError
from app.core.models.load_params import LoadParams
from app.server import DEFAULT_PORT


def add_commands(commands) -> None:
    """Add ``serve`` to the ``fimble`` subcommand parsers."""
    serve = commands.add_parser("serve", help="serve the models to editors and scripts (OpenAI API, /infill)")
    serve.add_argument("--chat-model", metavar="PATH", help="GGUF for /v1/chat/completions (default: the starter)")
    serve.add_argument(
        "--completion-model", metavar="PATH", help="GGUF for /v1/completions and /infill (default: the chat model)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default {DEFAULT_PORT})")
    serve.add_argument("--yes-expose", action="store_true", help="confirm listening on a non-loopback address")
    serve.add_argument("--no-auth", action="store_true", help="no bearer token (loopback only)")
    serve.add_argument("--new-token", action="store_true", help="make a new token (the old one stops working)")
    serve.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN", help="allow a browser origin (* = wildcard)"
    )
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME", help="another Host name to answer")
    serve.add_argument("--max-connections", type=int, default=32, help="requests open at once, then 503 (default 32)")
    serve.add_argument("--ctx", type=int, default=4096, help="context length in tokens")
    serve.add_argument("--gpu-layers", type=int, default=-1, help="-1 = all, 0 = CPU only")
    serve.add_argument("--json", action="store_true", help='print {"url", "token"} as the first line on stdout')


def _check(args: argparse.Namespace) -> None:
    from app.server.runner import is_loopback

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535")
    if args.max_connections < 1:
        raise UsageError("--max-connections must be at least 1")
    if not is_loopback(args.host):
        if not args.yes_expose:
            raise UsageError(
                f"--host {args.host} makes the models reachable from other machines;"
                " add --yes-expose to confirm (the token is still required)"
            )
        if args.no_auth:
            raise UsageError("--no-auth is allowed only on a loopback address such as 127.0.0.1")
    for path in (args.chat_model, args.completion_model):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{path}: no such model file")


def _model_paths(args: argparse.Namespace) -> tuple[str, str]:
    chat = args.chat_model or args.completion_model
    if chat is None:
        from app.core.models.starter import StarterMissing, starter_model_path
        from app.core.paths import app_dirs

        try:
            chat = str(starter_model_path(app_dirs().models))
        except StarterMissing:
            raise UsageError("give --chat-model and --completion-model (the starter model is not installed)") from None
    return str(chat), str(args.completion_model or chat)


def run(args: argparse.Namespace) -> int:
    """``fimble serve``: load, serve until SIGINT or SIGTERM, exit 0."""
    from app.core.paths import engine_log_path
    from app.engine.client import EngineError
    from app.engine.host_client import HostEngine
    from app.server.guard import server_token
    from app.server.roles import EngineLane, Lane
    from app.server.runner import LocalServer, ServerError

    _check(args)
    chat_path, completion_path = _model_paths(args)
    try:
        params = LoadParams(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    engines: list[HostEngine] = []
    lanes: dict[str, Lane] = {}
    by_path: dict[str, Lane] = {}
    server: LocalServer | None = None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for role, path in (("chat", chat_path), ("completion", completion_path)):
            if path not in by_path:
                engine = HostEngine(f"serve-{role}", log_path=engine_log_path(f"serve-{role}"))
                engines.append(engine)
                engine.start()
                model = engine.load(path, params)
                by_path[path] = EngineLane(engine, model, _model_id(path, by_path))
            lanes[role] = by_path[path]
        token = None if args.no_auth else server_token(regenerate=args.new_token)
        server = LocalServer(
            lanes,
            host=args.host,
            port=args.port,
            token=token,
            cors_origins=tuple(args.cors_origin),
            host_names=tuple(args.allow_host),
            max_connections=args.max_connections,
        )
        server.start()
        _announce(args, server.url, token, lanes)
        while not stop.wait(0.5):
            pass
        return 0
    except (EngineError, ServerError) as exc:
        raise UsageError(getattr(exc, "message", None) or str(exc)) from None
    finally:
        if server is not None:
            server.stop()
        for engine in engines:
            engine.request_close()
        for engine in engines:
            engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _model_id(path: str, taken: Mapping[str, object]) -> str:
    name = Path(path).stem
    return name if all(Path(p).stem != name for p in taken) else f"{name}-{len(taken) + 1}"


def _announce(args: argparse.Namespace, url: str, token: str | None, lanes: dict) -> None:
    if args.json:
        print(json.dumps({"url": url, "token": token}), flush=True)
        return
    print(f"Fimble is serving on {url}  (OpenAI API: {url}/v1, llama.cpp infill: {url}/infill)")
    print(f"  chat: {lanes['chat'].model_id}   completion: {lanes['completion'].model_id}")
    print(f"  token: {token}" if token else "  no token required (--no-auth)")
    print("Press Ctrl+C to stop.", flush=True)
