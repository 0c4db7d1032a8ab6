"""The loopback Hub's HTTP side: routes, JSON answers, ranges and injected faults."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.hub_files import CHUNK, _File, _Repo

if TYPE_CHECKING:
    from tests.support.hub_server import HubServer


def _repo_json(repo: _Repo, files: dict[str, _File], commit: str, *, blobs: bool) -> dict:
    siblings = []
    for f in files.values():
        entry: dict = {"rfilename": f.name}
        if blobs:
            entry.update(size=f.size, blobId=f.blob_id)
            if f.lfs:
                entry["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
        siblings.append(entry)
    return {
        "_id": commit[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
        "sha": commit,
        "lastModified": repo.last_modified,
        "private": False,
        "disabled": False,
        "gated": "manual" if repo.gated else False,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "library_name": "gguf" if "gguf" in repo.tags else None,
        "tags": list(repo.tags),
        "cardData": {"license": repo.license, "tags": [t for t in repo.tags if not t.startswith("license:")]},
        "siblings": siblings,
        "createdAt": repo.last_modified,
    }


def _tree_json(f: _File) -> dict:
    entry = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.name}
    if f.lfs:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
    return entry


_RESOLVE = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_API_MODEL = re.compile(r"^/api/models/(?P<rest>.+)$")
_SORT_KEYS = {"downloads": "downloads", "likes": "likes", "lastModified": "last_modified"}


class _Handler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the ``HubServer`` in ``hub``."""

    hub: HubServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    server_version = "FimbleHub/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch(head=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch(head=False)

    # -- plumbing ------------------------------------------------------------

    def _dispatch(self, head: bool) -> None:
        self.hub.requests.append((self.command, self.path, self.headers.get("Range")))
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        try:
            if path == "/api/models":
                self._search(query)
            elif path == "/api/whoami-v2":
                self._whoami()
            elif (match := _API_MODEL.match(path)) is not None:
                self._model_api(match["rest"], query)
            elif (match := _RESOLVE.match(path)) is not None:
                self._resolve(match["repo"], match["rev"], match["file"], head)
            else:
                self._json(404, {"error": "Not Found"})
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    def _json(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})}
        self._json(status, {"error": message}, headers)

    # -- API routes ------------------------------------------------------------

    def _search(self, query: dict[str, list[str]]) -> None:
        with self.hub._lock:
            repos = list(self.hub._repos.values())
        needle = (query.get("search") or [""])[0].lower()
        filters = query.get("filter", [])
        found = [r for r in repos if needle in r.repo_id.lower() and all(f in r.tags for f in filters)]
        sort = (query.get("sort") or ["downloads"])[0]
        if sort in _SORT_KEYS:
            found.sort(key=lambda r: getattr(r, _SORT_KEYS[sort]), reverse=True)
        limit = int((query.get("limit") or ["1000"])[0])
        expand = query.get("expand", [])
        full = (query.get("full") or ["false"])[0].lower() == "true"
        items = []
        for repo in found[:limit]:
            data = _repo_json(repo, repo.files, repo.commit, blobs=False)
            if expand:
                data = {k: v for k, v in data.items() if k in ("_id", "id") or k in expand}
            elif not full:
                data = {
                    k: data[k]
                    for k in (
                        "_id",
                        "id",
                        "modelId",
                        "likes",
                        "downloads",
                        "tags",
                        "private",
                        "library_name",
                        "createdAt",
                    )
                }
            items.append(data)
        self._json(200, items)

    def _whoami(self) -> None:
        token = self._token()
        if not self.hub._token_allowed(token):
            self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return
        self._json(
            200,
            {
                "type": "user",
                "name": "fimble-tester",
                "fullname": "Fimble Tester",
                "auth": {"type": "access_token", "accessToken": {"displayName": "fimble", "role": "read"}},
            },
        )

    def _model_api(self, rest: str, query: dict[str, list[str]]) -> None:
        repo_id, kind, rev, sub = rest, "info", "main", ""
        for marker in ("/revision/", "/tree/"):
            if marker in rest:
                repo_id, tail = rest.split(marker, 1)
                kind = marker.strip("/")
                rev, _, sub = tail.partition("/")
                break
        found = self._revision(repo_id, rev)
        if found is None:
            return
        repo, files, commit = found
        if kind == "tree":
            prefix = sub.strip("/")
            entries = [_tree_json(f) for f in files.values() if not prefix or f.name.startswith(prefix + "/")]
            self._json(200, entries)
            return
        blobs = (query.get("blobs") or ["false"])[0].lower() == "true"
        self._json(200, _repo_json(repo, files, commit, blobs=blobs))

    def _revision(self, repo_id: str, rev: str):
        """Return (repo, files, commit) for a revision, or answer 404 and return None."""
        repo = self.hub._repo(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        files = repo.files if rev == "main" else repo.history.get(rev)
        if files is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return repo, files, repo.commit if rev == "main" else rev

    # -- file downloads ------------------------------------------------------------

    def _resolve(self, repo_id: str, rev: str, filename: str, head: bool) -> None:
        found = self._revision(repo_id, rev)
        if found is None:
            return
        repo, files, commit = found
        hub_file = files.get(filename)
        if hub_file is None:
            self._error(404, "EntryNotFound", f'{filename} does not exist on "{rev}"', {"X-Repo-Commit": commit})
            return
        if repo.gated:
            token = self._token()
            if token is None:
                self._error(
                    401,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in.",
                )
                return
            if not self.hub._token_allowed(token):
                self._error(
                    403,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                    f"Visit {self._web_base()}/{repo_id} to accept the license and ask for access.",
                )
                return
        failure = self.hub._take_failure((repo_id, filename)) if not head else None
        if failure is not None:
            status, retry_after = failure
            self._error(
                status,
                "ServiceUnavailable",
                "the server is busy; try again later",
                {"Retry-After": retry_after} if retry_after is not None else None,
            )
            return
        etag = f'"{hub_file.sha256}"' if hub_file.lfs else f'"{hub_file.blob_id}"'
        start, end = 0, hub_file.size - 1
        ranged = self.hub.ranges and self.headers.get("Range") is not None
        if ranged:
            parsed = _parse_range(self.headers["Range"], hub_file.size)
            if parsed is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{hub_file.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
        length = end - start + 1 if hub_file.size else 0
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("X-Repo-Commit", commit)
        if hub_file.lfs:
            self.send_header("X-Linked-Etag", etag)
            self.send_header("X-Linked-Size", str(hub_file.size))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{hub_file.size}")
        self.end_headers()
        if head or length == 0:
            return
        fault = self.hub._take_fault((repo_id, filename))
        self._send_body(hub_file, (repo_id, filename), start, length, fault)

    def _web_base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _send_body(
        self, hub_file: _File, key: tuple[str, str], start: int, length: int, fault: tuple[str, int] | None
    ) -> None:
        limit = length
        if fault is not None and fault[0] == "cut":
            limit = min(length, fault[1])
        corrupt = fault is not None and fault[0] == "corrupt"
        hold = fault[1] if fault is not None and fault[0] == "hold" else None
        rate = self.hub.bytes_per_s
        fast = hub_file.path is not None and hasattr(os, "sendfile") and not corrupt and not rate and hold is None
        try:
            if fast:
                self._sendfile(hub_file.path, key, start, limit)
            elif hold is not None and hold < limit:
                self._write_chunks(hub_file, key, start, hold, False, rate)
                self.wfile.flush()
                while not self.hub._released.wait(0.1):
                    pass
                self._write_chunks(hub_file, key, start + hold, limit - hold, False, rate)
            else:
                self._write_chunks(hub_file, key, start, limit, corrupt, rate)
        finally:
            if limit < length:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _count(self, key: tuple[str, str], sent: int) -> None:
        with self.hub._lock:
            self.hub.bytes_sent[key] += sent

    def _sendfile(self, path: Path, key: tuple[str, str], start: int, count: int) -> None:
        out = self.connection.fileno()
        with open(path, "rb") as handle:
            offset, left = start, count
            while left > 0:
                try:
                    sent = os.sendfile(out, handle.fileno(), offset, min(left, 8 * CHUNK))
                except BlockingIOError:  # the socket has a timeout, so it is non-blocking
                    if not select.select([], [out], [], self.timeout)[1]:
                        raise TimeoutError("the client stopped reading") from None
                    continue
                if sent == 0:
                    break
                self._count(key, sent)
                offset += sent
                left -= sent

    def _write_chunks(
        self, hub_file: _File, key: tuple[str, str], start: int, count: int, corrupt: bool, rate: float | None
    ) -> None:
        handle = open(hub_file.path, "rb") if hub_file.path is not None else None
        try:
            if handle is not None:
                handle.seek(start)
            position, left, began = start, count, time.perf_counter()
            step = CHUNK if not rate else max(1024, min(CHUNK, int(rate / 20)))
            first = True
            while left > 0:
                size = min(step, left)
                chunk = handle.read(size) if handle is not None else hub_file.data[position : position + size]
                if not chunk:
                    break
                if corrupt and first:
                    chunk = bytes(b ^ 0xFF for b in chunk[:64]) + chunk[64:]
                first = False
                self.wfile.write(chunk)
                self._count(key, len(chunk))
                position += len(chunk)
                left -= len(chunk)
                if rate:
                    ahead = (position - start) / rate - (time.perf_counter() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        finally:
            if handle is not None:
                handle.close()


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse a single ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range; None when unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            return None
        return max(0, size - suffix), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)
