"""``fimble models …`` and ``fimble quantize``: the model manager without a window.

Each command prints its result on stdout, progress on stderr, and on failure
one ``fimble: error: …`` line with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.core.machine import human_bytes

EXIT_FAILED = 1


class CommandFailed(Exception):
    """An operation that failed for a reason the user can act on; one line."""


def add_commands(commands) -> None:
    """Add ``models`` and ``quantize`` to the ``fimble`` subcommand parsers."""
    models = commands.add_parser("models", help="list, search, download and remove models")
    actions = models.add_subparsers(
        dest="models_command",
        parser_class=type(models),
        required=True,
        metavar="{list,search,files,pull,rm,token,catalog}",
    )
    listing = actions.add_parser("list", help="list the local models")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    search = actions.add_parser("search", help="search the Hugging Face Hub for GGUF models")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print a JSON array")
    files = actions.add_parser("files", help="list a Hub repository's GGUF files")
    files.add_argument("repo")
    pull = actions.add_parser("pull", help="download a model; quantize locally when the repository lacks the type")
    pull.add_argument("repo")
    pull.add_argument("--file", help="the GGUF file to download")
    pull.add_argument("--quant", help="the quantization wanted, e.g. Q4_K_M (default when no --file)")
    pull.add_argument(
        "--delete-source", action="store_true", help="delete the full-precision download after quantizing it"
    )
    remove = actions.add_parser("rm", help="remove a model from the library (deletes files Fimble downloaded)")
    remove.add_argument("name")
    actions.add_parser("token", help="store a Hugging Face token read from stdin (an empty line removes it)")
    catalog = actions.add_parser("catalog", help="list the curated models and where they come from")
    catalog.add_argument("--json", action="store_true", help="print a JSON array")

    quantize = commands.add_parser("quantize", help="quantize a full-precision GGUF with llama.cpp")
    quantize.add_argument("input")
    quantize.add_argument("output")
    quantize.add_argument("--type", required=True, help="e.g. Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0")
    quantize.add_argument("--force", action="store_true", help="re-quantize an already-quantized file")
    quantize.add_argument("--threads", type=int, default=None)


def run(args) -> int:
    """Run a ``models`` or ``quantize`` command; return the exit status."""
    from app.core.errors import UserFacingError, one_line
    from app.core.hub.pull_plan import PullError

    handlers = {
        "list": _list,
        "search": _search,
        "files": _files,
        "pull": _pull,
        "rm": _remove,
        "token": _token,
        "catalog": _catalog,
    }
    try:
        if args.command == "quantize":
            return _quantize(args)
        return handlers[args.models_command](args)
    except (CommandFailed, UserFacingError, PullError, ValueError, OSError) as exc:
        print(f"fimble: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _library():
    from app.core.models.library import Library

    return Library.default()


def _list(args) -> int:
    models = _library().models()
    if args.json:
        print(json.dumps([m.to_json() for m in models], indent=2))
        return 0
    if not models:
        print("no models yet; try: fimble models pull google/codegemma-1.1-2b-GGUF --quant Q4_K_M")
        return 0
    for model in models:
        info = model.info
        if info is None:
            print(f"{model.name:<48} {'?':<10} {human_bytes(model.size_bytes):>9}  {model.error}")
            continue
        roles = ", ".join(info.roles) or "none"
        print(f"{model.name:<48} {info.family:<10} {info.file_type:<7} {human_bytes(model.size_bytes):>9}  {roles}")
    return 0


def _search(args) -> int:
    from app.core.hub.client import HubClient

    if args.limit < 1:
        raise CommandFailed("--limit must be at least 1")
    results = HubClient().search(args.query, limit=args.limit)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
        return 0
    if not results:
        print(f"no GGUF repositories match {args.query!r}")
    for repo in results:
        gated = "  gated" if repo.gated else ""
        updated = (repo.last_modified or "")[:10]
        print(f"{repo.repo_id:<50} ↓{repo.downloads:<9} ♥{repo.likes:<6} {updated}  {repo.license or '?'}{gated}")
    return 0


def _files(args) -> int:
    from app.core.hub.client import HubClient

    details = HubClient().repo(args.repo)
    if details.gated:
        print(f"gated: accept the license at {details.license_url} and add a token (fimble models token)")
    for file in details.files:
        print(f"{file.filename:<60} {file.quant or 'full precision?':<16} {human_bytes(file.size):>9}")
    return 0


def _pull(args) -> int:
    from app.core.hub.client import HubClient
    from app.core.hub.downloader import DownloadControl
    from app.core.hub.pull_plan import plan_pull
    from app.services.pull import PullCallbacks, run_pull

    client = HubClient()
    details = client.repo(args.repo)
    plan = plan_pull(details, filename=args.file, quant=args.quant)
    if details.gated:
        print(f"{args.repo} is gated; its license is at {details.license_url}", file=sys.stderr)
    print(f"fimble: {plan.describe()} ({human_bytes(plan.file.size)})", file=sys.stderr)
    progress = _Progress()
    callbacks = PullCallbacks(on_download=progress.download, on_quantize=progress.quantize)
    library = _library()
    try:
        path = run_pull(
            plan,
            library.models_dir,
            client=client,
            control=DownloadControl(),
            callbacks=callbacks,
            keep_source=not args.delete_source,
        )
    except KeyboardInterrupt:
        progress.end()
        print("fimble: interrupted; run the same command again to resume the download", file=sys.stderr)
        return 130
    progress.end()
    print(path)
    return 0


def _remove(args) -> int:
    library = _library()
    model = library.find(args.name)
    library.remove(model.path)
    what = "forgot" if model.referenced else "deleted"
    print(f"{what} {model.path}")
    return 0


def _token(args) -> int:
    from app.core.hub.token import delete_token, save_token

    line = sys.stdin.readline().strip()
    if not line:
        delete_token()
        print("removed the stored Hugging Face token")
        return 0
    save_token(line)
    print("stored the Hugging Face token")
    return 0


def _catalog(args) -> int:
    from dataclasses import asdict

    from app.core.models.catalog import CATALOG

    if args.json:
        print(json.dumps([asdict(e) for e in CATALOG], indent=2))
        return 0
    for entry in CATALOG:
        sources = ", ".join(r for r in (entry.official_repo, *entry.community_repos) if r)
        print(f"{entry.title:<28} {'/'.join(entry.roles):<18} {sources}")
    return 0


def _quantize(args) -> int:
    from app.core.models.quantize_plan import plan_quantize
    from app.engine.quantizer import Quantizer

    plan = plan_quantize(Path(args.input), Path(args.output), args.type, force=args.force)
    print(
        f"fimble: quantizing {plan.source.name} ({plan.source_type}) to {plan.qtype}, "
        f"about {human_bytes(plan.estimated_bytes)}",
        file=sys.stderr,
    )
    progress = _Progress()
    quantizer = Quantizer()
    try:
        path = quantizer.run(plan, on_progress=progress.quantize, threads=args.threads)
    except KeyboardInterrupt:
        quantizer.cancel()
        progress.end()
        print("fimble: interrupted; the partial output was removed", file=sys.stderr)
        return 130
    progress.end()
    print(path)
    return 0


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a line per 10% otherwise."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last_step = -1
        self._last_write = 0.0
        self._open = False

    def download(self, p) -> None:
        if p.state == "verifying":
            self._write("verifying sha256…", 1.0, force=True)
            return
        if p.state == "retrying":
            self._write(p.note, p.done / p.total if p.total else 0.0, force=True)
            return
        eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        fraction = p.done / p.total if p.total else 0.0
        speed = human_bytes(p.speed_bps)
        self._write(f"downloading {human_bytes(p.done)} of {human_bytes(p.total)} at {speed}/s{eta}", fraction)

    def quantize(self, p) -> None:
        fraction = p.done / p.total if p.total else 0.0
        self._write(f"quantizing tensor {p.done}/{p.total} {p.tensor}", fraction)

    def _write(self, text: str, fraction: float, force: bool = False) -> None:
        line = f"{fraction * 100:5.1f}% {text}"
        if self._tty:
            now = time.monotonic()
            if force or now - self._last_write > 0.1:
                sys.stderr.write("\r\x1b[K" + line)
                sys.stderr.flush()
                self._last_write, self._open = now, True
            return
        step = int(fraction * 10)
        if step != self._last_step or force:
            self._last_step = step
            print(line, file=sys.stderr)

    def end(self) -> None:
        if self._open:
            sys.stderr.write("\n")
            self._open = False
