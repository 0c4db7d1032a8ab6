"""A model's vocabulary read through llama-server's ``/tokenize``: the ``Vocab`` prompt builders use.

The local families (``core/generation/families``) build FIM prompts as token
ids over a ``Vocab``. ``RemoteVocab`` gives them the server's own tokenizer,
so a llama-server model gets exactly the ids a local run of the same GGUF
would build:

* user and file text is tokenized with ``parse_special: false``, so text
  typed by the user can never become a control token;
* control tokens (the family's markers, BOS, EOS) are looked up once per
  model, each by its exact spelling with ``parse_special: true``, and kept
  only when that gives one token whose piece is the spelling; they form
  ``special_ids``, which the builders split user text around should the
  tokenizer still match one (llama.cpp matches user-defined tokens even in
  plain text);
* ``add_bos`` is read from the tokenizer itself: ``"a"`` tokenized with and
  without ``add_special``; a prompt of ids gets no BOS from the server, so
  the builders' single BOS is the only one;
* ``add_space_prefix`` likewise: whether ``"a"`` comes back as ``" a"``.

Tokenized texts are cached (the suffix and context files rarely change
between keystrokes), so a FIM prompt usually costs one request: the prefix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.core.errors import ErrorKind
from app.engine.remote.client import RemoteClient
from app.engine.remote.errors import RemoteError

# How many tokenized texts are kept.
CACHE_SIZE = 64
# Parallel look-ups of control-token spellings while a model loads.
_LOOKUP_WORKERS = 8


def _ids(answer: object, where: str) -> list[int]:
    """The ids of a ``/tokenize`` answer: ``{"tokens": [id, ...]}`` or ``[{"id": .., "piece": ..}, ...]``."""
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    if not isinstance(tokens, list):
        raise RemoteError(ErrorKind.BAD_REPLY, f"{where}/tokenize answered without a token list")
    out: list[int] = []
    for token in tokens:
        value = token.get("id") if isinstance(token, dict) else token
        if not isinstance(value, int) or isinstance(value, bool):
            raise RemoteError(ErrorKind.BAD_REPLY, f"{where}/tokenize answered with a token that is not an id")
        out.append(value)
    return out


class RemoteVocab:
    """``core.generation.vocab.Vocab`` over a llama-server's tokenizer endpoints.

    Build it with ``RemoteVocab.load``; the look-ups of control tokens happen there, once.
    """

    def __init__(self, client: RemoteClient) -> None:
        self._client = client
        self.bos_id: int | None = None
        self.eos_id: int | None = None
        self.add_bos = False
        self.add_space_prefix = False
        self.special_ids: frozenset[int] = frozenset()
        self.eog_ids: frozenset[int] = frozenset()
        self._by_text: dict[str, int | None] = {}
        self._pieces: dict[int, str] = {}
        self._cache: OrderedDict[tuple[str, bool], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, client: RemoteClient, spellings: Iterable[str], props: object) -> RemoteVocab:
        """Look up the model's control tokens and tokenizer habits.

        Args:
            client: The server's client.
            spellings: Every control-token spelling prompt builders may ask
                for or must keep user text from becoming.
            props: The server's ``GET /props`` JSON (names BOS and EOS).

        Raises:
            RemoteError: The server has no usable ``/tokenize``.
        """
        vocab = cls(client)
        named = props if isinstance(props, dict) else {}
        bos_text, eos_text = named.get("bos_token"), named.get("eos_token")
        wanted = {s for s in spellings if s}
        wanted.update(t for t in (bos_text, eos_text) if isinstance(t, str) and t)
        ordered = sorted(wanted)
        with ThreadPoolExecutor(max_workers=_LOOKUP_WORKERS, thread_name_prefix="remote-vocab") as pool:
            found = list(pool.map(vocab._lookup, ordered))
        for text, token in zip(ordered, found, strict=True):
            vocab._by_text[text] = token
            if token is not None:
                vocab._pieces.setdefault(token, text)
        vocab.bos_id = vocab._by_text.get(bos_text) if isinstance(bos_text, str) else None
        vocab.eos_id = vocab._by_text.get(eos_text) if isinstance(eos_text, str) else None
        plain = vocab._tokenize("a", add_special=False, special=False)
        with_special = vocab._tokenize("a", add_special=True, special=False)
        vocab.add_bos = vocab.bos_id is not None and len(with_special) > len(plain) and with_special[0] == vocab.bos_id
        vocab.add_space_prefix = vocab._pieces_of("a").startswith(" ")
        vocab.special_ids = frozenset(vocab._pieces)
        vocab.eog_ids = frozenset(t for t in (vocab.eos_id,) if t is not None)
        return vocab

    # ---- the Vocab protocol ---------------------------------------------------------

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Tokenize ``text`` without BOS (``special``: read control-token spellings as such)."""
        if not text:
            return []
        key = (text, special)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return list(hit)
        tokens = self._tokenize(text, add_special=False, special=special)
        with self._lock:
            self._cache[key] = tokens
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return list(tokens)

    def token_id(self, text: str) -> int | None:
        """The id of the single token spelled ``text``, or None."""
        with self._lock:
            if text in self._by_text:
                return self._by_text[text]
        token = self._lookup(text)
        with self._lock:
            self._by_text[text] = token
            if token is not None:
                self._pieces.setdefault(token, text)
        return token

    def piece(self, token_id: int) -> str:
        """The spelling of a token (control tokens from the look-ups, others from ``/detokenize``)."""
        with self._lock:
            known = self._pieces.get(token_id)
        if known is not None:
            return known
        answer = self._client.post_json("/detokenize", {"tokens": [token_id]})
        content = answer.get("content") if isinstance(answer, dict) else None
        return content if isinstance(content, str) else ""

    # ---- requests ---------------------------------------------------------------------

    def _tokenize(self, text: str, *, add_special: bool, special: bool) -> list[int]:
        body: dict[str, Any] = {"content": text, "add_special": add_special, "parse_special": special}
        answer = self._client.post_json("/tokenize", body)
        if answer is None:
            raise RemoteError(ErrorKind.BAD_REPLY, f"{self._client.base_url} has no /tokenize")
        return _ids(answer, self._client.base_url)

    def _lookup(self, text: str) -> int | None:
        # One token whose piece is the text itself: the vocabulary spells a token so.
        body = {"content": text, "add_special": False, "parse_special": True, "with_pieces": True}
        tokens = self._pieces_answer(body)
        if len(tokens) != 1:
            return None
        token, piece = tokens[0]
        # Control and user-defined pieces keep SentencePiece's "\u2581"; plain ones show a space.
        return token if piece in (text, text.replace("\u2581", " ")) else None

    def _pieces_of(self, text: str) -> str:
        body = {"content": text, "add_special": False, "parse_special": False, "with_pieces": True}
        return "".join(piece for _, piece in self._pieces_answer(body))

    def _pieces_answer(self, body: dict[str, Any]) -> list[tuple[int, str]]:
        answer = self._client.post_json("/tokenize", body)
        if answer is None:
            raise RemoteError(ErrorKind.BAD_REPLY, f"{self._client.base_url} has no /tokenize")
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        out: list[tuple[int, str]] = []
        for token, entry in zip(_ids(answer, self._client.base_url), tokens or [], strict=False):
            piece = entry.get("piece") if isinstance(entry, dict) else None
            out.append((token, piece if isinstance(piece, str) else ""))  # bytes that are not UTF-8: no match
        return out
