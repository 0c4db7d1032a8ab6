"""The curated catalog: the code models Fimble is built around, and where to get them.

Each entry names a model, its roles and the Hub repositories that hold GGUF
files of it. File names, sizes and quantizations are not stored here: the
model manager reads them live from the Hub, so the catalog cannot go stale
when a repository adds or renames files.

Google publishes CodeGemma as full-precision GGUF files in gated
repositories (accept the Gemma terms on the Hub first). Meta published no
GGUF files of Code Llama, so its entries only list community conversions.
Community repositories hold ready quantizations and are not gated; a repository
that has since been removed shows up as "not found" when browsed.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPLETION = "completion"
CHAT = "chat"


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalog.

    Attributes:
        key: Stable short id, e.g. ``codegemma-1.1-2b``.
        title: What the UI shows, e.g. ``CodeGemma 1.1 2B``.
        family: ``codegemma`` or ``codellama`` (see ``app.core.generation.families``).
        version: The model's release, e.g. ``1.0`` or ``1.1``.
        params: Parameter count as the model is named, e.g. ``7B``.
        roles: What the model is for: ``completion`` (fill-in-the-middle in
            the editor) and/or ``chat``.
        official_repo: The publisher's own GGUF repository, if there is one.
        community_repos: Repositories with ready-made quantizations.
        gated: Whether the official repository asks the user to accept a
            license before downloading.
        license: License id as the Hub spells it (``gemma``, ``llama2``).
        note: One line for the UI: what the model is good for, caveats.
    """

    key: str
    title: str
    family: str
    version: str
    params: str
    roles: tuple[str, ...]
    official_repo: str | None
    community_repos: tuple[str, ...]
    gated: bool
    license: str
    note: str

    @property
    def repos(self) -> tuple[str, ...]:
        """Every source, the official repository first."""
        first = (self.official_repo,) if self.official_repo else ()
        return first + self.community_repos

    def is_gated(self, repo_id: str) -> bool:
        """Whether downloading from ``repo_id`` needs an accepted license."""
        return self.gated and self.official_repo is not None and _same_repo(repo_id, self.official_repo)


_GEMMA_FULL = (
    "Google's repository holds the full-precision file only; quantize it locally or pick a community quantization."
)

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        key="codegemma-2b",
        title="CodeGemma 2B",
        family="codegemma",
        version="1.0",
        params="2B",
        roles=(COMPLETION,),
        official_repo="google/codegemma-2b-GGUF",
        community_repos=("bartowski/codegemma-2b-GGUF",),
        gated=True,
        license="gemma",
        note="Fast fill-in-the-middle code completion; not a chat model. " + _GEMMA_FULL,
    ),
    CatalogEntry(
        key="codegemma-1.1-2b",
        title="CodeGemma 1.1 2B",
        family="codegemma",
        version="1.1",
        params="2B",
        roles=(COMPLETION,),
        official_repo="google/codegemma-1.1-2b-GGUF",
        community_repos=("mmnga/codegemma-1.1-2b-gguf",),
        gated=True,
        license="gemma",
        note="The refreshed 2B completion model (more training, higher FIM rate); not a chat model. " + _GEMMA_FULL,
    ),
    CatalogEntry(
        key="codegemma-7b",
        title="CodeGemma 7B",
        family="codegemma",
        version="1.0",
        params="7B",
        roles=(COMPLETION,),
        official_repo="google/codegemma-7b-GGUF",
        community_repos=("bartowski/codegemma-7b-GGUF", "MaziyarPanahi/codegemma-7b-GGUF"),
        gated=True,
        license="gemma",
        note="Code completion and generation from natural language; slower than 2B, better at longer code. "
        "Google released no 1.1 of the 7B base model, so 1.0 is the latest. " + _GEMMA_FULL,
    ),
    CatalogEntry(
        key="codegemma-7b-it",
        title="CodeGemma 7B-it",
        family="codegemma",
        version="1.0",
        params="7B",
        roles=(CHAT,),
        official_repo="google/codegemma-7b-it-GGUF",
        community_repos=("bartowski/codegemma-7b-it-GGUF",),
        gated=True,
        license="gemma",
        note="Instruction-tuned for code chat; use a base model for editor completion. " + _GEMMA_FULL,
    ),
    CatalogEntry(
        key="codegemma-1.1-7b-it",
        title="CodeGemma 1.1 7B-it",
        family="codegemma",
        version="1.1",
        params="7B",
        roles=(CHAT,),
        official_repo="google/codegemma-1.1-7b-it-GGUF",
        community_repos=("bartowski/codegemma-1.1-7b-it-GGUF", "lmstudio-community/codegemma-1.1-7b-it-GGUF"),
        gated=True,
        license="gemma",
        note="The refreshed instruction-tuned 7B for code chat; use a base model for editor completion. " + _GEMMA_FULL,
    ),
    CatalogEntry(
        key="codellama-7b",
        title="Code Llama 7B",
        family="codellama",
        version="1.0",
        params="7B",
        roles=(COMPLETION,),
        official_repo=None,
        community_repos=("TheBloke/CodeLlama-7B-GGUF",),
        gated=False,
        license="llama2",
        note="Base model for code completion with infilling; not a chat model. "
        "Meta published no GGUF, so the files are community conversions.",
    ),
    CatalogEntry(
        key="codellama-13b",
        title="Code Llama 13B",
        family="codellama",
        version="1.0",
        params="13B",
        roles=(COMPLETION,),
        official_repo=None,
        community_repos=("TheBloke/CodeLlama-13B-GGUF",),
        gated=False,
        license="llama2",
        note="Larger base model for code completion with infilling; wants a GPU for quick completions. "
        "Meta published no GGUF, so the files are community conversions.",
    ),
    CatalogEntry(
        key="codellama-7b-instruct",
        title="Code Llama 7B Instruct",
        family="codellama",
        version="1.0",
        params="7B",
        roles=(CHAT, COMPLETION),
        official_repo=None,
        community_repos=("TheBloke/CodeLlama-7B-Instruct-GGUF",),
        gated=False,
        license="llama2",
        note="Instruction-tuned for chat ([INST] format); it also supports infilling. "
        "Meta published no GGUF, so the files are community conversions.",
    ),
)


def _same_repo(a: str, b: str) -> bool:
    # Hub repository ids resolve case-insensitively.
    return a.strip().strip("/").lower() == b.strip().strip("/").lower()


def find_entry(key_or_repo: str) -> CatalogEntry | None:
    """Return the entry with this key or holding this repository.

    Args:
        key_or_repo: A catalog key (``codegemma-7b-it``) or a Hub repository
            id (``google/codegemma-7b-it-GGUF``); case is ignored.

    Returns:
        The entry, or None when the catalog has no such model.
    """
    wanted = key_or_repo.strip().lower()
    for entry in CATALOG:
        if entry.key == wanted:
            return entry
    return entry_for_repo(key_or_repo)


def entry_for_repo(repo_id: str) -> CatalogEntry | None:
    """Return the entry that lists ``repo_id`` as a source, or None."""
    for entry in CATALOG:
        if any(_same_repo(repo_id, repo) for repo in entry.repos):
            return entry
    return None
