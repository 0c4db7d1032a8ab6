"""What some servers offer beyond the common API: token-id FIM prompts and stop-token ids.

llama-server (``ServerKind.LLAMA_SERVER``): ``LlamaServerPrompts`` builds the
FIM prompt as token ids with the local family module itself
(``Family.build_fim``) over the server's tokenizer (``RemoteVocab``), after
fitting prefix and suffix to their token budgets as the local engine does
(``core/fim/budget``). The ids are what a local run of the same GGUF would
build: user text tokenized with ``parse_special: false`` can never become a
control token, the control-token ids are looked up once per model, and the one
BOS is the builder's (llama-server adds none to a prompt of ids). The request
also carries ``cache_prompt`` (reuse the server's KV cache across keystrokes)
and ``n_indent`` (the indentation of the cursor's line: the server ends the
answer at a line indented less, as llama.vscode asks it to).

A model Fimble has no FIM layout for (the generic family, with FIM tokens
under spellings no family module knows) may still be one llama-server knows
FIM tokens for, from its GGUF metadata or its own list of spellings: then
the request goes to llama-server's ``/infill`` (``infill_fields``), which
lays the prompt out itself and takes the context files as ``input_extra``.
Models with a family layout never use ``/infill``: its layout differs from
the local one (it names the current file ``filename``, and cuts the prefix and
suffix to fit one batch).

vLLM (``ServerKind.VLLM``): the prompt stays text (vLLM's ``/tokenize`` cannot
keep user text from becoming control tokens), and ``vllm_stop_token_ids``
looks up the ids of the family's stop tokens once, for ``stop_token_ids``:
vLLM then stops on the token itself, not only on its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.core.fim.budget import fit_request
from app.core.generation.contracts import FimRequest
from app.core.generation.families import MARKER_SPELLINGS, Family, PromptError, get_family
from app.core.remote.prompts import control_strings
from app.engine.remote.client import RemoteClient
from app.engine.remote.errors import RemoteError
from app.engine.remote.remote_vocab import RemoteVocab

# Control tokens every family may put in a prompt (BOS, EOS) under their usual spellings.
_COMMON = ("<s>", "</s>", "<bos>", "<eos>", "<pad>", "<unk>")


def cursor_indent(prefix: str, suffix: str) -> int:
    """The indentation (spaces and tabs) of the line the cursor is on."""
    line = prefix.rsplit("\n", 1)[-1] + suffix.split("\n", 1)[0]
    return len(line) - len(line.lstrip(" \t"))


class LlamaServerPrompts:
    """FIM prompts as token ids for the model one llama-server serves.

    Args:
        vocab: The server's tokenizer, with the control tokens looked up.
        family: The local family module whose layout the prompt follows.
    """

    def __init__(self, vocab: RemoteVocab, family: Family) -> None:
        self.vocab = vocab
        self.family = family
        self.fim = family.fim_tokens(vocab)

    @classmethod
    def load(cls, client: RemoteClient, family: str) -> LlamaServerPrompts:
        """Look up the model's control tokens through ``client`` (one round of requests per model).

        Raises:
            RemoteError: The server has no usable ``/tokenize``.
        """
        spellings = {*MARKER_SPELLINGS, *_COMMON}
        if family != "generic":
            spellings.update(control_strings(family))
        vocab = RemoteVocab.load(client, spellings, client.get_json("/props"))
        return cls(vocab, get_family(family))

    @property
    def has_fim(self) -> bool:
        """Whether the model has the family's FIM tokens."""
        return self.fim is not None

    def fim_ids(self, request: FimRequest) -> list[int]:
        """The FIM prompt of ``request`` as token ids, fitted to its token budgets.

        Raises:
            PromptError: The model has no FIM tokens.
            RemoteError: A ``/tokenize`` request failed.
        """
        if self.fim is None:
            raise PromptError(
                "this model has no fill-in-the-middle tokens; pick a code completion model"
                " such as CodeGemma 2B/7B or Code Llama 7B/13B"
            )
        return self.family.build_fim(self.vocab, fit_request(self.vocab, request))


def llama_server_infills(client: RemoteClient) -> bool:
    """Whether llama-server's ``/infill`` works for its model (the server knows the model's FIM tokens).

    Asked once, with an empty prefix and suffix and one token to predict.
    """
    try:
        answer = client.post_json("/infill", {"input_prefix": "", "input_suffix": "", "n_predict": 1})
    except RemoteError:
        return False  # 501: "Infill is not supported by this model"
    return isinstance(answer, dict)


def infill_fields(vocab: RemoteVocab, request: FimRequest) -> dict[str, Any]:
    """``/infill``'s fields: prefix and suffix fitted to their token budgets, the context files as ``input_extra``.

    The server lays the prompt out itself with the FIM tokens it knows for the
    model, and tokenizes all of this text with special tokens not parsed.
    """
    fitted = fit_request(vocab, request)
    return {
        "input_prefix": fitted.prefix,
        "input_suffix": fitted.suffix,
        "input_extra": [{"filename": chunk.path, "text": chunk.text} for chunk in request.chunks],
    }


def vllm_stop_token_ids(client: RemoteClient, model: str, stops: Sequence[str]) -> list[int]:
    """The ids of those ``stops`` that are one token in vLLM's tokenizer (looked up via ``/tokenize``).

    A stop that is no single token, or a server whose ``/tokenize`` fails, adds
    nothing: the stop strings still end the answer.
    """
    found: list[int] = []
    for text in stops:
        try:
            answer = client.post_json("/tokenize", {"model": model, "prompt": text, "add_special_tokens": False})
        except RemoteError:
            return found
        if answer is None:  # no /tokenize
            return found
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if isinstance(tokens, list) and len(tokens) == 1:
            token = tokens[0]
            if isinstance(token, int) and not isinstance(token, bool) and token not in found:
                found.append(token)
    return found
