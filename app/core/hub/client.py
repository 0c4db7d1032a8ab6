"""The Hugging Face Hub as Fimble sees it: GGUF search, file lists, tokens.

Everything goes through ``huggingface_hub``; this module only picks what
Fimble shows (downloads, likes, license, GGUF files with sizes, sha256 and
quantization type) and turns the library's errors into ``HubError``, whose
text is one plain sentence the UI and CLI can show as is.

The endpoint comes from ``HF_ENDPOINT`` when a ``HubClient`` is made, and the
token is the one ``huggingface_hub`` uses (``app.core.hub.token``), so ``hf``
on the command line and Fimble share one login.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from app import __version__
from app.core.errors import ErrorKind, UserFacingError
from app.core.hub.token import load_token
from app.core.models import quant_types

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT_S = 15.0
_TRUE = {"1", "on", "yes", "true"}
# The fields a search asks for; the Hub leaves most of them out otherwise.
_SEARCH_FIELDS = ("downloads", "likes", "lastModified", "gated", "tags", "cardData")

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import ModelInfo


class HubError(UserFacingError):
    """A Hub request that failed, with a one-line message for people.

    Attributes:
        kind: ``OFFLINE`` (no network or offline mode), ``GATED`` (the
            repository needs an accepted license and a token), ``AUTH`` (the
            token was refused), ``NOT_FOUND`` or ``HTTP`` (anything else).
    """


@dataclass(frozen=True)
class RepoSummary:
    """One search result."""

    repo_id: str
    downloads: int
    likes: int
    last_modified: str | None
    license: str | None
    gated: bool


@dataclass(frozen=True)
class HubFile:
    """A GGUF file of a repository at one commit.

    ``sha256`` is the LFS object id (None for files stored without LFS) and
    ``quant`` the type the file name states (None for unnamed full precision).
    """

    repo_id: str
    filename: str
    size: int
    sha256: str | None
    quant: str | None
    revision: str

    @property
    def basename(self) -> str:
        """The file name without any folder."""
        return self.filename.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RepoDetails:
    """A repository's GGUF files at one commit, and whether it is gated."""

    summary: RepoSummary
    revision: str
    files: tuple[HubFile, ...]
    gated: bool
    license_url: str


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def offline_mode() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read now."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def gated_message(repo_id: str, web_base: str, token_refused: bool = False) -> str:
    """The sentence shown when a gated repository's files can't be read."""
    url = f"{web_base.rstrip('/')}/{repo_id}"
    if token_refused:
        return (
            f"{repo_id} is gated and your Hugging Face token was refused: accept the license at {url} "
            "with the account the token belongs to, or store another token" + _TOKEN_HOW
        )
    return f"{repo_id} is gated: accept its license at {url}, then store a Hugging Face token" + _TOKEN_HOW


_TOKEN_HOW = " (Models → Hugging Face Token…, or `fimble models token`)"


def offline_message(reason: str | None = None) -> str:
    """The sentence shown when the Hub can't be reached."""
    if reason is None:
        return "the Hugging Face Hub can't be reached (offline mode is on)"
    return f"the Hugging Face Hub can't be reached: {reason}"


def short_reason(error: BaseException) -> str:
    """A short, single-line reason for a network error."""
    text = " ".join(str(error).split()) or type(error).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "the connection was refused"
    if "timed out" in lowered or "timeout" in type(error).__name__.lower():
        return "the connection timed out"
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "getaddrinfo" in lowered
        or "name resolution" in lowered
    ):
        return "the server name could not be resolved (no network?)"
    return text if len(text) <= 120 else text[:117] + "..."


class HubClient:
    """Search the Hub for GGUF models and list a repository's GGUF files.

    Args:
        endpoint: The Hub's address; defaults to ``HF_ENDPOINT``, then
            https://huggingface.co.
        token: A Hugging Face token; defaults to the saved one
            (``load_token``). An empty string means none.
    """

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token if token is not None else load_token()
        self.offline = offline_mode()
        self._api: HfApi | None = None

    @property
    def web_base(self) -> str:
        """Where a repository's web page lives (the endpoint itself on the Hub)."""
        return self.endpoint

    def license_url(self, repo_id: str) -> str:
        """The page where a repository's license is read and accepted."""
        return f"{self.web_base}/{repo_id}"

    def auth_headers(self) -> dict[str, str]:
        """``Authorization`` header for the token, or an empty dict."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def file_url(self, hub_file: HubFile) -> str:
        """The download address of a file, pinned to the commit it was listed at."""
        return (
            f"{self.endpoint}/{hub_file.repo_id}/resolve/{quote(hub_file.revision, safe='')}/{quote(hub_file.filename)}"
        )

    # -- requests -------------------------------------------------------------

    def search(self, query: str, limit: int = 30) -> list[RepoSummary]:
        """Find GGUF repositories whose name contains ``query``, most downloaded first.

        Raises:
            HubError: Offline, or the Hub answered with an error.
        """
        from huggingface_hub.hf_api import ModelInfo
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        self._check_online()
        # One request without the listing's retry loop, which would keep an
        # offline search spinning for half a minute.
        params: dict[str, Any] = {
            "filter": "gguf",
            "sort": "downloads",
            "limit": int(limit),
            "expand": list(_SEARCH_FIELDS),
        }
        if query.strip():
            params["search"] = query.strip()
        with self._errors():
            response = get_session().get(
                f"{self.endpoint}/api/models",
                params=params,
                headers=build_hf_headers(token=self.token or False, library_name="fimble", library_version=__version__),
                timeout=TIMEOUT_S,
            )
            hf_raise_for_status(response)
            infos = [ModelInfo(**{"siblings": None, **item}) for item in response.json()]  # type: ignore[no-untyped-call]
        return [_summary(info) for info in infos[:limit]]

    def repo(self, repo_id: str, revision: str = "main") -> RepoDetails:
        """A repository's GGUF files with sizes and sha256, pinned to the commit ``revision`` is at.

        Raises:
            HubError: Offline, unknown repository or revision, or another error.
        """
        self._check_online()
        with self._errors(repo_id):
            info = self._hf_api().model_info(repo_id, revision=revision, files_metadata=True, timeout=TIMEOUT_S)
        commit = info.sha or revision
        files = []
        for sibling in info.siblings or []:
            if not sibling.rfilename.lower().endswith(".gguf"):
                continue
            lfs = sibling.lfs
            size = sibling.size if sibling.size is not None else (lfs.size if lfs else 0)
            files.append(
                HubFile(
                    repo_id,
                    sibling.rfilename,
                    int(size),
                    lfs.sha256 if lfs else None,
                    quant_types.from_filename(sibling.rfilename),
                    commit,
                )
            )
        summary = _summary(info)
        return RepoDetails(
            summary, commit, tuple(sorted(files, key=lambda f: f.filename)), summary.gated, self.license_url(repo_id)
        )

    def whoami(self) -> str:
        """The user name the token belongs to.

        Raises:
            HubError: No token, a refused token, or the Hub can't be reached.
        """
        self._check_online()
        if not self.token:
            raise HubError(ErrorKind.AUTH, "no Hugging Face token is saved in Fimble")
        with self._errors():
            return str(self._hf_api().whoami(token=self.token).get("name", ""))

    # -- helpers ----------------------------------------------------------------

    def _hf_api(self) -> HfApi:
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(
                endpoint=self.endpoint, token=self.token or False, library_name="fimble", library_version=__version__
            )
        return self._api

    def _check_online(self) -> None:
        if self.offline:
            raise HubError(ErrorKind.OFFLINE, offline_message())

    def _errors(self, repo_id: str | None = None) -> _ErrorMapper:
        return _ErrorMapper(self, repo_id)


class _ErrorMapper:
    """Context manager turning ``huggingface_hub`` and network errors into ``HubError``."""

    def __init__(self, client: HubClient, repo_id: str | None) -> None:
        self.client = client
        self.repo_id = repo_id

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is None or isinstance(exc, HubError) or not isinstance(exc, Exception):
            return False
        raise to_hub_error(exc, self.client, self.repo_id) from None


def to_hub_error(error: Exception, client: HubClient, repo_id: str | None = None) -> HubError:
    """Map an exception from ``huggingface_hub`` or the HTTP layer to a ``HubError``."""
    import httpx2
    from huggingface_hub import errors

    if isinstance(error, errors.OfflineModeIsEnabled):
        return HubError(ErrorKind.OFFLINE, offline_message())
    if isinstance(error, errors.GatedRepoError):
        repo = repo_id or error.repo_id or "the repository"
        refused = bool(client.token) and _status(error) == 403
        return HubError(ErrorKind.AUTH if refused else "gated", gated_message(repo, client.web_base, refused))
    if isinstance(error, errors.RevisionNotFoundError):
        return HubError(ErrorKind.NOT_FOUND, f"{repo_id or 'the repository'} has no such revision on the Hub")
    if isinstance(error, errors.RemoteEntryNotFoundError):
        return HubError(ErrorKind.NOT_FOUND, f"that file is not in {repo_id or 'the repository'} on the Hub")
    if isinstance(error, errors.RepositoryNotFoundError):
        return HubError(
            ErrorKind.NOT_FOUND,
            f"{repo_id or 'the repository'} was not found on the Hub "
            "(check the name; private repositories need a token)",
        )
    if isinstance(error, errors.HfHubHTTPError):
        status = _status(error)
        if status in (401, 403):
            return HubError(
                ErrorKind.AUTH,
                f"the Hugging Face Hub refused the token (HTTP {status}); check the token saved in Fimble",
            )
        return HubError(ErrorKind.HTTP, f"the Hugging Face Hub answered with an error (HTTP {status or '?'})")
    if isinstance(
        error, (httpx2.ConnectError, httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError, OSError)
    ):
        return HubError(ErrorKind.OFFLINE, offline_message(short_reason(error)))
    if isinstance(error, (ValueError, KeyError, TypeError)):
        return HubError(ErrorKind.HTTP, "the Hugging Face Hub sent an answer Fimble could not read")
    return HubError(ErrorKind.HTTP, f"the Hugging Face Hub request failed: {short_reason(error)}")


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _summary(info: ModelInfo) -> RepoSummary:
    card = info.card_data
    license_id = card.get("license") if card is not None else None
    if not license_id:
        license_id = next((t.split(":", 1)[1] for t in info.tags or () if t.startswith("license:")), None)
    if isinstance(license_id, list):
        license_id = license_id[0] if license_id else None
    last = info.last_modified.isoformat() if info.last_modified is not None else None
    return RepoSummary(
        info.id,
        int(info.downloads or 0),
        int(info.likes or 0),
        last,
        str(license_id) if license_id else None,
        bool(info.gated),
    )
