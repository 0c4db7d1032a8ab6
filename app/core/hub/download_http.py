"""Reading the Hub's answer to a file download: its ETag, its length, its range, a refusal, a dropped line."""

from __future__ import annotations

import re

import httpx2 as httpx  # the HTTP client huggingface_hub 2.x ships with

from app.core.errors import ErrorKind
from app.core.hub.client import HubClient, gated_message
from app.core.hub.download_errors import DownloadError


def normalize_etag(value: str | None) -> str | None:
    """An ETag without its weak marker and quotes; None when empty."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def response_etag(response: httpx.Response) -> tuple[str | None, bool]:
    """The file's ETag and whether it came from the Hub itself (not a CDN)."""
    for hop in [*response.history, response]:
        linked = hop.headers.get("X-Linked-Etag")
        if linked:
            return normalize_etag(linked), True
    return normalize_etag(response.headers.get("ETag")), not response.history


def response_total(response: httpx.Response) -> int | None:
    """The whole file's size the answer states (``Content-Range`` of a 206, else ``Content-Length``)."""
    if response.status_code == 206:
        tail = response.headers.get("Content-Range", "").rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def range_start(response: httpx.Response) -> int:
    """The first byte a 206 answer holds, or -1 when it does not say."""
    match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match[1]) if match else -1


def lost_note(exc: BaseException) -> str:
    """What a transport error did to the transfer, in a few words for the progress report."""
    return "the connection stalled" if isinstance(exc, httpx.TimeoutException) else "the connection was lost"


def refused_error(response: httpx.Response, repo: str, client: HubClient) -> DownloadError:
    """The error for a 401 or 403: a gated repository, a missing token or a refused one."""
    gated = response.headers.get("X-Error-Code") == "GatedRepo"
    if not client.token:
        if gated:
            return DownloadError(ErrorKind.GATED, gated_message(repo, client.web_base))
        return DownloadError(ErrorKind.AUTH, f"{repo} needs a Hugging Face token; add one in Fimble")
    if gated:
        return DownloadError(ErrorKind.AUTH, gated_message(repo, client.web_base, token_refused=True))
    return DownloadError(
        ErrorKind.AUTH,
        f"the Hugging Face Hub refused the token for {repo} (HTTP {response.status_code}); "
        "check the token saved in Fimble",
    )
