"""Tiny random-weight GGUF models that real llama.cpp loads and runs.

Test fixtures and a self-test model: under 1 MB each, written in a few ms,
with vocabularies laid out like the real families Fimble supports, so that
tokenization, FIM token detection, chat templates and generation can be
exercised without a download. ``special_token_ids`` tells the ids used.

Token types (``gguf.TokenType``) follow real GGUF files:

* Gemma: today's ``convert_hf_to_gguf.py`` (e.g. the Gemma 3 270M starter
  GGUF) marks ``<pad> <eos> <bos> <mask> <unusedN> <start_of_turn>
  <end_of_turn>`` CONTROL and newline/space runs USER_DEFINED; any ``<|...|>``
  added token (the FIM ones) is CONTROL too. Gemma-1-era files had
  ``<end_of_turn>`` non-control (llama.cpp overrides EOT and FIM tokens to
  CONTROL at load, but not ``<start_of_turn>``), so we write CONTROL, which
  matters: llama.cpp matches USER_DEFINED tokens even with ``special=False``.
* Code Llama: ``▁<PRE> ▁<SUF> ▁<MID> ▁<EOT>`` (32007-32010 in the real
  vocabulary) are special tokens of the HF tokenizer, hence CONTROL.
* ChatML: ``<|im_start|>`` and ``<|im_end|>`` are CONTROL.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import gguf
import numpy as np

FAMILIES = ("codegemma", "codellama", "generic")

_T = gguf.TokenType
_SP = "\u2581"  # SentencePiece's visible space

GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim"
    " + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

CHATML_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_DEFAULT_TEMPLATES = {"codegemma": GEMMA_CHAT_TEMPLATE, "generic": CHATML_CHAT_TEMPLATE}

_CODE_WORDS = (
    "def return import from class self print if else elif for while in not "
    "and or is None True False lambda with as try except finally raise pass "
    "break continue yield async await global assert del const let var "
    "function int str float bool list dict set tuple len range open main "
    "__init__ __name__ __main__ args kwargs value result name data add sum "
    "public private static void include std string new this null true false "
    "fn pub mut struct impl use func package type interface end then echo "
    "os sys json path file line text index item key size count test"
).split()

_GEMMA_TURNS = ("<start_of_turn>", "<end_of_turn>")
_GEMMA_FIM = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_separator|>")
_LLAMA_INFILL = (_SP + "<PRE>", _SP + "<SUF>", _SP + "<MID>", _SP + "<EOT>")
_CHATML = ("<|im_end|>", "<|im_start|>")
_BYTES = tuple(f"<0x{b:02X}>" for b in range(256))


class _Vocab:
    """Token texts, scores and types, appended in id order."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.scores: list[float] = []
        self.types: list[int] = []
        self.ids: dict[str, int] = {}

    def add(self, text: str, ttype: int, score: float = 0.0) -> int:
        if text in self.ids:
            return self.ids[text]
        self.ids[text] = len(self.tokens)
        self.tokens.append(text)
        self.scores.append(score)
        self.types.append(int(ttype))
        return self.ids[text]

    def add_all(self, texts: Iterable[str], ttype: int, score: float = 0.0) -> None:
        for text in texts:
            self.add(text, ttype, score)

    def add_normal(self, pieces: Iterable[str], until: int | None = None) -> list[str]:
        """Add NORMAL pieces (score falls with rank); return those not added."""
        pieces = list(pieces)
        while pieces and (until is None or len(self.tokens) < until):
            self.add(pieces.pop(0), _T.NORMAL, -float(len(self.tokens)))
        return pieces


def _normal_pieces(extra_words: Iterable[str]) -> list[str]:
    """Code words, ``▁word`` and every prefix of both, then single characters.

    llama.cpp's SentencePiece tokenizer only merges adjacent pieces whose
    concatenation is in the vocabulary, so each prefix must be there too.
    """
    words = list(_CODE_WORDS) + [w for w in extra_words if w]
    out: dict[str, None] = {}
    for word in words:
        base = word.replace(" ", _SP)
        for variant in (_SP + base, base):
            for end in range(2, len(variant) + 1):
                out[variant[:end]] = None
    chars = [chr(c) for c in range(33, 127)]
    out.update(dict.fromkeys(_SP + c for c in chars))
    out.update(dict.fromkeys([_SP, *chars]))
    return list(out)


def _build_vocab(family: str, extra_words: Iterable[str] = ()) -> tuple[_Vocab, dict[str, int]]:
    vocab = _Vocab()
    if family == "codegemma":
        # Real Gemma ids: 0-3 pad/eos/bos/unk, 7-105 <unused0..98> (CodeGemma
        # puts its FIM tokens at 67-70), 106/107 turns, 108.. newline runs,
        # space runs, ..., byte tokens from 217.
        vocab.add_all(("<pad>", "<eos>", "<bos>"), _T.CONTROL)
        vocab.add("<unk>", _T.UNKNOWN)
        unused = [f"<unused{n}>" for n in range(99)]
        unused[60:64] = _GEMMA_FIM
        vocab.add_all(("<mask>", "<2mass>", "[@BOS@]", *unused, *_GEMMA_TURNS), _T.CONTROL)
        runs = ["\n" * n for n in range(1, 32)] + [" " * n for n in range(2, 32)]
        vocab.add_all(runs, _T.USER_DEFINED, -1000.0)
        rest = vocab.add_normal(_normal_pieces(extra_words), until=217)
        vocab.add_all(_BYTES, _T.BYTE)
        vocab.add_normal(rest)
        special = ("<pad>", "<eos>", "<bos>", "<unk>", *_GEMMA_TURNS, *_GEMMA_FIM)
    else:
        vocab.add("<unk>", _T.UNKNOWN)
        vocab.add_all(("<s>", "</s>"), _T.CONTROL)
        vocab.add_all(_BYTES, _T.BYTE)
        vocab.add_normal([_SP * n for n in range(2, 17)] + _normal_pieces(extra_words))
        added = _LLAMA_INFILL if family == "codellama" else _CHATML
        vocab.add_all(added, _T.CONTROL)
        special = ("<unk>", "<s>", "</s>", *added)
    return vocab, {text: vocab.ids[text] for text in special}


def special_token_ids(family: str, *, extra_words: Iterable[str] | None = None) -> dict[str, int]:
    """Return the ids ``write_tiny_gguf`` gives a family's special tokens.

    Args:
        family: One of ``FAMILIES``.
        extra_words: The same ``extra_words`` passed to ``write_tiny_gguf``.

    Returns:
        A mapping from token text (e.g. ``"<end_of_turn>"``, ``"▁<PRE>"``) to id.
    """
    _check_family(family)
    return _build_vocab(family, extra_words or ())[1]


def byte_token_ids(family: str, *, extra_words: Iterable[str] | None = None) -> dict[int, int]:
    """Return the id of each byte token (``<0x00>`` .. ``<0xFF>``), by byte value.

    A random-weight model can pick a lone byte from 0x80 up, which never
    decodes as UTF-8; tests that stream long answers ban those ids.
    """
    _check_family(family)
    ids = _build_vocab(family, extra_words or ())[0].ids
    return {value: ids[text] for value, text in enumerate(_BYTES)}


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")


def write_tiny_gguf(
    path: str | os.PathLike[str],
    family: str,
    *,
    n_layers: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    context_length: int = 4096,
    seed: int = 0,
    name: str | None = None,
    file_type: str = "F32",
    chat_template: str | None = "",
    extra_words: Iterable[str] | None = None,
) -> pathlib.Path:
    """Write a tiny random-weight GGUF model of one family.

    ``codegemma`` is a ``gemma`` model with Gemma's vocabulary layout, turn
    tokens and CodeGemma's ``<|fim_*|>`` tokens; ``codellama`` a ``llama``
    model with Llama 2's layout plus ``▁<PRE> ▁<SUF> ▁<MID> ▁<EOT>``;
    ``generic`` a ``llama`` model with ChatML tokens and template.

    Args:
        path: Where to write; parent folders are created. Written atomically.
        family: One of ``FAMILIES``.
        n_layers: Transformer blocks.
        n_embd: Embedding width; must be a multiple of ``n_head``.
        n_head: Attention heads.
        n_head_kv: Key/value heads; must divide ``n_head``.
        n_ff: Feed-forward width.
        context_length: Training context length written to the metadata.
        seed: Seed of the random weights (same seed, same file).
        name: ``general.name``; defaults to ``tiny-<family>-fixture``.
        file_type: ``"F32"`` or ``"F16"`` for 2-D weights (norms stay F32).
        chat_template: ``tokenizer.chat_template``; ``""`` means the family
            default (Gemma's, none, ChatML) and ``None`` writes none.
        extra_words: More NORMAL pieces to add to the vocabulary.

    Returns:
        The path written.

    Raises:
        ValueError: On an unknown family or file type, or bad head counts.
    """
    _check_family(family)
    if file_type not in ("F32", "F16"):
        raise ValueError(f"file_type must be 'F32' or 'F16', not {file_type!r}")
    if n_head <= 0 or n_embd % n_head or n_head_kv <= 0 or n_head % n_head_kv:
        raise ValueError("n_embd must be a multiple of n_head, and n_head of n_head_kv")
    vocab, ids = _build_vocab(family, extra_words or ())
    gemma = family == "codegemma"
    head_dim = n_embd // n_head
    f16 = file_type == "F16"

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    writer = gguf.GGUFWriter(tmp, "gemma" if gemma else "llama")
    writer.add_name(name or f"tiny-{family}-fixture")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(1e-6 if gemma else 1e-5)
    if not gemma:
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(1e6 if family == "codellama" else 1e4)
        writer.add_vocab_size(len(vocab.tokens))
    template = _DEFAULT_TEMPLATES.get(family) if chat_template == "" else chat_template
    _add_tokenizer(writer, vocab, ids, gemma, template)

    rng = np.random.default_rng(seed)

    def weight(rows: int, cols: int) -> np.ndarray:
        values = rng.standard_normal((rows, cols), dtype=np.float32) * 0.02
        return values.astype(np.float16) if f16 else values

    ones = np.ones(n_embd, dtype=np.float32)  # norms stay F32 (Gemma stores 1 + w)
    q_dim, kv_dim, n_vocab = n_head * head_dim, n_head_kv * head_dim, len(vocab.tokens)
    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    for i in range(n_layers):
        for suffix, tensor in (
            ("attn_norm", ones),
            ("attn_q", weight(q_dim, n_embd)),
            ("attn_k", weight(kv_dim, n_embd)),
            ("attn_v", weight(kv_dim, n_embd)),
            ("attn_output", weight(n_embd, q_dim)),
            ("ffn_norm", ones),
            ("ffn_gate", weight(n_ff, n_embd)),
            ("ffn_up", weight(n_ff, n_embd)),
            ("ffn_down", weight(n_embd, n_ff)),
        ):
            writer.add_tensor(f"blk.{i}.{suffix}.weight", tensor)
    writer.add_tensor("output_norm.weight", ones)
    if not gemma:  # Gemma ties the output projection to token_embd
        writer.add_tensor("output.weight", weight(n_vocab, n_embd))

    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return path


def _add_tokenizer(
    writer: gguf.GGUFWriter, vocab: _Vocab, ids: dict[str, int], gemma: bool, template: str | None
) -> None:
    writer.add_tokenizer_model("llama")  # SentencePiece
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    bos, eos = ("<bos>", "<eos>") if gemma else ("<s>", "</s>")
    writer.add_bos_token_id(ids[bos])
    writer.add_eos_token_id(ids[eos])
    writer.add_unk_token_id(ids["<unk>"])
    if gemma:
        writer.add_pad_token_id(ids["<pad>"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(not gemma)
    if template:
        writer.add_chat_template(template)
