"""What Fimble knows about a GGUF model before loading it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import cached_property

import gguf

from app.core.generation.families import MARKER_SPELLINGS, Family, detect_family
from app.core.generation.families.turns import has_turn_tokens
from app.core.models.gguf_file import GGUFFile, read_gguf

# llama.cpp token types (tokenizer.ggml.token_type).
TOKEN_CONTROL = 3

_CACHE_BYTES = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
    "q4_1": 20 / 32,
    "q5_0": 22 / 32,
    "q5_1": 24 / 32,
    "iq4_nl": 18 / 32,
}


class GGUFVocab:
    """A vocabulary read from GGUF metadata: lookups by text, no tokenizer.

    It answers ``token_id`` and ``piece`` for prompt builders and family
    detection; the engine host adds llama.cpp's tokenizer on top.
    """

    def __init__(self, file: GGUFFile) -> None:
        meta = file.metadata
        self.tokens: list[str] = file.get_strings("tokenizer.ggml.tokens")
        types = file.get_list("tokenizer.ggml.token_type")
        self._ids: dict[str, int] = {}
        for index, text in enumerate(self.tokens):
            self._ids.setdefault(text, index)
        markers = {self._ids[t] for t in MARKER_SPELLINGS if t in self._ids}
        self.special_ids = frozenset(i for i, kind in enumerate(types) if kind == TOKEN_CONTROL) | markers
        self.bos_id = _int_or_none(meta.get("tokenizer.ggml.bos_token_id"))
        self.eos_id = _int_or_none(meta.get("tokenizer.ggml.eos_token_id"))
        self.add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", self.bos_id is not None))
        model = meta.get("tokenizer.ggml.model", "")
        self.add_space_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", model == "llama"))
        self.eog_ids = frozenset(
            i for i in (self.eos_id, _int_or_none(meta.get("tokenizer.ggml.eot_token_id"))) if i is not None
        )

    def token_id(self, text: str) -> int | None:
        """Return the id of the token spelled exactly ``text``."""
        return self._ids.get(text)

    def piece(self, token_id: int) -> str:
        """Return the vocabulary's spelling of a token."""
        return self.tokens[token_id]

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Not available without llama.cpp; the engine host provides it."""
        raise NotImplementedError("tokenizing needs the engine host")


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


@dataclass(frozen=True)
class ModelInfo:
    """A model's inspected metadata, as ``fimble inspect --json`` prints it."""

    path: str
    name: str
    architecture: str
    family: str
    file_type: str
    context_length: int | None
    parameters: int
    has_chat_template: bool
    size_bytes: int
    fim: dict[str, int | None] | None
    can_chat: bool
    n_layers: int | None
    weights_bytes: int

    @property
    def can_complete(self) -> bool:
        """Whether the model has FIM tokens for the editor."""
        return self.fim is not None

    @property
    def roles(self) -> list[str]:
        """The roles this model can serve: "chat", "completion"."""
        return [r for r, ok in (("chat", self.can_chat), ("completion", self.can_complete)) if ok]

    def to_dict(self) -> dict[str, object]:
        """Return every field plus roles, JSON-ready."""
        data = asdict(self)
        data["roles"] = self.roles
        return data


class InspectedModel:
    """A parsed GGUF with its vocabulary and family, for inspection and prompts."""

    def __init__(self, file: GGUFFile) -> None:
        self.file = file
        self.vocab = GGUFVocab(file)
        arch = str(file.get("general.architecture", "unknown"))
        self.architecture = arch
        self.name = str(file.get("general.name", "") or os.path.basename(file.path))
        self.family: Family = detect_family(arch, self.name, lambda t: self.vocab.token_id(t) is not None)
        self.chat_template = file.get_str("tokenizer.chat_template") or None

    def arch_value(self, key: str, default: object = None) -> object:
        """Return ``{architecture}.{key}`` from the metadata."""
        return self.file.get(f"{self.architecture}.{key}", default)

    def arch_int(self, key: str, default: int = 0) -> int:
        """Return ``{architecture}.{key}`` as one integer (the largest of a per-layer array).

        ``default`` when the key is missing or holds no integer.
        """
        value = self.arch_value(key)
        if isinstance(value, list):
            value = max((v for v in value if isinstance(v, int)), default=default)
        return value if isinstance(value, int) else default

    @cached_property
    def info(self) -> ModelInfo:
        """The summary of the model."""
        fim = self.family.fim_tokens(self.vocab)
        weights = sum(t.nbytes for t in self.file.tensors)
        return ModelInfo(
            path=str(self.file.path),
            name=self.name,
            architecture=self.architecture,
            family=self.family.name,
            file_type=_file_type_name(self.file.get("general.file_type")),
            context_length=_int_or_none(self.arch_value("context_length")),
            parameters=sum(t.elements for t in self.file.tensors),
            has_chat_template=self.chat_template is not None,
            size_bytes=self.file.size_bytes,
            fim=fim.as_dict() if fim else None,
            can_chat=self.family.can_chat(self.name, self.chat_template is not None) or has_turn_tokens(self.vocab),
            n_layers=_int_or_none(self.arch_value("block_count")),
            weights_bytes=weights,
        )

    def kv_cache_bytes(self, n_ctx: int, cache_type: str = "f16") -> int:
        """Estimate the KV cache size at ``n_ctx`` tokens.

        Args:
            n_ctx: Context length in tokens.
            cache_type: K and V cache element type.

        Returns:
            Bytes; an upper bound for models with sliding-window layers.
        """
        layers = self.info.n_layers or 0
        heads = self.arch_int("attention.head_count") or 1
        kv_heads = self.arch_int("attention.head_count_kv", heads)
        embd = self.arch_int("embedding_length")
        key_len = self.arch_int("attention.key_length") or embd // max(heads, 1)
        value_len = self.arch_int("attention.value_length") or embd // max(heads, 1)
        return kv_bytes(layers, kv_heads, key_len, value_len, n_ctx, cache_type)

    def memory_estimate(self, n_ctx: int, cache_type: str = "f16") -> int:
        """Estimate RAM/VRAM for weights plus KV cache at ``n_ctx``."""
        return self.info.weights_bytes + self.kv_cache_bytes(n_ctx, cache_type)


def kv_bytes(layers: int, kv_heads: int, key_len: int, value_len: int, n_ctx: int, cache_type: str = "f16") -> int:
    """The KV cache's bytes at ``n_ctx`` tokens for a model of this attention shape."""
    per_token = layers * kv_heads * (key_len + value_len) * _CACHE_BYTES.get(cache_type, 2.0)
    return int(per_token * n_ctx)


def _file_type_name(value: object) -> str:
    if not isinstance(value, int):
        return "unknown"
    try:
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"type {value}"


def inspect_model(path: str | os.PathLike[str]) -> InspectedModel:
    """Read, validate and summarise a GGUF model.

    Args:
        path: The file.

    Returns:
        The inspected model; ``.info`` is the summary.

    Raises:
        GGUFError: The file is missing or not a valid GGUF.
    """
    return InspectedModel(read_gguf(path))
