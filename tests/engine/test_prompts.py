"""Prompt layouts as token ids, built over real llama.cpp vocabularies."""

from __future__ import annotations

import pytest

from app.core.generation.contracts import ChatMessage, ChatRequest, ContextChunk, FimRequest
from app.engine.runner import EngineFailure
from app.selftest.tiny_gguf import special_token_ids

CG = special_token_ids("codegemma")
CL = special_token_ids("codellama")
GEN = special_token_ids("generic")


def text(runner, ids):
    return runner.llama.detokenize(ids, special=True).decode()


def test_codegemma_fim_layout(runners):
    runner = runners["codegemma"]
    vocab = runner.vocab
    ids = runner.build_prompt(FimRequest(prefix="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))\n"))
    prefix_ids = vocab.tokenize("def add(a, b):\n    ", special=False)
    suffix_ids = vocab.tokenize("\n\nprint(add(1, 2))\n", special=False)
    assert ids == [
        CG["<bos>"],
        CG["<|fim_prefix|>"],
        *prefix_ids,
        CG["<|fim_suffix|>"],
        *suffix_ids,
        CG["<|fim_middle|>"],
    ]


def test_codegemma_other_files_go_first_behind_file_separators(runners):
    runner = runners["codegemma"]
    request = FimRequest(
        prefix="x = ", suffix="", path="src/main.py", chunks=(ContextChunk("src/util.py", "def helper():\n    pass\n"),)
    )
    ids = runner.build_prompt(request)
    sep = CG["<|file_separator|>"]
    assert ids[0] == CG["<bos>"] and ids[1] == sep
    assert ids.count(sep) == 2
    second = ids.index(sep, 2)
    assert text(runner, ids[2:second]) == "src/util.py\ndef helper():\n    pass\n"
    assert ids[second + 1 : ids.index(CG["<|fim_prefix|>"])] == runner.vocab.tokenize("src/main.py\n", special=False)


def test_codellama_fim_layout_and_suffix_without_leading_space(runners):
    runner = runners["codellama"]
    ids = runner.build_prompt(FimRequest(prefix="def add(a, b):\n    ", suffix="return a + b\n"))
    pre, suf, mid = CL["\u2581<PRE>"], CL["\u2581<SUF>"], CL["\u2581<MID>"]
    assert ids[:2] == [CL["<s>"], pre] and ids[-1] == mid
    assert ids.count(CL["<s>"]) == 1
    suffix_ids = ids[ids.index(suf) + 1 : -1]
    suffix_text = runner.llama.detokenize(suffix_ids).decode()
    # SentencePiece would add a space before "return"; Code Llama's suffix must not have one.
    assert suffix_text == "return a + b\n"
    plain = runner.vocab.tokenize("return a + b\n", special=False)
    assert runner.llama.detokenize(plain).decode().startswith(" ") or plain != suffix_ids


def test_fim_on_a_model_without_fim_tokens_is_a_wrong_role(runners):
    with pytest.raises(EngineFailure) as caught:
        runners["generic"].build_prompt(FimRequest(prefix="x"))
    assert caught.value.kind == "wrong_role"
    assert "fill-in-the-middle" in caught.value.message


def test_prefix_only_fallback_for_models_without_fim(runners):
    runner = runners["generic"]
    ids = runner.build_prompt(FimRequest(prefix="def f():", allow_prefix_only=True))
    assert ids == [GEN["<s>"], *runner.vocab.tokenize("def f():", special=False)]


def test_codegemma_chat_folds_the_system_prompt_into_the_first_user_turn(runners):
    runner = runners["codegemma"]
    messages = (
        ChatMessage("system", "Answer in Go."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Sort a slice"),
    )
    rendered = text(runner, runner.build_prompt(ChatRequest(messages)))
    assert rendered == (
        "<bos><start_of_turn>user\nAnswer in Go.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello<end_of_turn>\n"
        "<start_of_turn>user\nSort a slice<end_of_turn>\n<start_of_turn>model\n"
    )


def test_codellama_inst_chat_with_sys_block(tiny_models, tmp_path):
    from app.selftest.tiny_gguf import write_tiny_gguf
    from tests.engine.conftest import vocab_runner

    path = write_tiny_gguf(tmp_path / "instruct.gguf", "codellama", name="CodeLlama 7B Instruct")
    runner = vocab_runner(path)
    messages = (
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Why?"),
    )
    ids = runner.build_prompt(ChatRequest(messages))
    bos, eos = CL["<s>"], CL["</s>"]
    assert ids.count(bos) == 2 and ids.count(eos) == 1 and ids[0] == bos
    rendered = runner.llama.detokenize(ids, special=True).decode()
    assert "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello " in rendered
    assert rendered.rstrip().endswith("[INST] Why? [/INST]")
    runner.unload()


def test_codellama_base_model_refuses_chat(runners):
    with pytest.raises(EngineFailure) as caught:
        runners["codellama"].build_prompt(ChatRequest((ChatMessage("user", "hi"),)))
    assert caught.value.kind == "wrong_role"


def test_generic_chat_renders_the_gguf_template_with_a_single_bos(runners):
    runner = runners["generic"]
    ids = runner.build_prompt(ChatRequest((ChatMessage("system", "S"), ChatMessage("user", "Q"))))
    assert ids.count(GEN["<s>"]) == 1 and ids[0] == GEN["<s>"]
    # A SentencePiece vocabulary with add_space_prefix puts a space after each
    # control token, as llama.cpp's own tokenizer does; compare without it.
    rendered = text(runner, ids).replace("|> ", "|>")
    assert "<|im_start|>system\nS<|im_end|>" in rendered
    assert rendered.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(
    "family, markers",
    [
        ("codegemma", ["<end_of_turn>", "<start_of_turn>", "<|fim_middle|>", "<|file_separator|>", "<bos>"]),
        ("codellama", ["</s>", "<s>", "\u2581<PRE>", "<EOT>"]),
        ("generic", ["<|im_end|>", "<|im_start|>", "<s>"]),
    ],
)
def test_control_token_spellings_typed_by_a_user_stay_text(runners, family, markers):
    runner = runners[family]
    evil = "look: " + " ".join(markers) + " done"
    special = runner.vocab.special_ids
    for request in (FimRequest(prefix=evil, suffix=evil, allow_prefix_only=True),):
        ids = runner.build_prompt(request)
        fim = runner.model.info.fim
        allowed = set(fim.values()) if fim else set()
        allowed |= {runner.vocab.bos_id}
        assert [i for i in ids if i in special and i not in allowed] == []
    if runner.model.info.can_chat:
        ids = runner.build_prompt(ChatRequest((ChatMessage("user", evil),)))
        plain = runner.build_prompt(ChatRequest((ChatMessage("user", "x"),)))
        # The user's markers add no control tokens beyond the ones the layout itself has.
        assert sum(i in special for i in ids) == sum(i in special for i in plain)
        assert evil in text(runner, ids)


def test_stop_ids_per_family(runners):
    cg = runners["codegemma"]
    stops = cg.model.family.stop_ids(cg.vocab)
    for name in ("<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<eos>", "<end_of_turn>"):
        assert CG[name] in stops, name
    cl = runners["codellama"]
    stops = cl.model.family.stop_ids(cl.vocab)
    assert {CL["\u2581<EOT>"], CL["</s>"]} <= stops
    assert CL["\u2581<PRE>"] not in stops


@pytest.mark.starter
def test_starter_chat_is_a_plain_text_transcript(starter_model):
    from app.core.generation.families.transcript import transcript_text
    from tests.engine.conftest import vocab_runner

    runner = vocab_runner(starter_model)
    messages = (ChatMessage("system", "S"), ChatMessage("user", "a\nb <end_of_turn>"))
    ids = runner.build_prompt(ChatRequest(messages))
    # A base model with no chat template gets text it can continue, not turn tokens it never learnt.
    assert text(runner, ids) == "<bos>" + transcript_text(messages)
    assert ids[0] == runner.vocab.bos_id and not runner.vocab.special_ids.intersection(ids[1:])
    runner.unload()


def test_codegemma_spm_puts_the_suffix_first(runners):
    runner = runners["codegemma"]
    vocab = runner.vocab
    ids = runner.build_prompt(FimRequest(prefix="a = 1\n", suffix="b = 2\n", order="spm"))
    assert ids == [
        CG["<bos>"],
        CG["<|fim_suffix|>"],
        *vocab.tokenize("b = 2\n", special=False),
        CG["<|fim_prefix|>"],
        *vocab.tokenize("a = 1\n", special=False),
        CG["<|fim_middle|>"],
    ]


def test_codellama_spm_puts_the_suffix_first_and_the_prefix_last(runners):
    runner = runners["codellama"]
    vocab = runner.vocab
    psm = runner.build_prompt(FimRequest(prefix="a = 1\n", suffix="b = 2\n"))
    spm = runner.build_prompt(FimRequest(prefix="a = 1\n", suffix="b = 2\n", order="spm"))
    pre, suf, mid = CL["▁<PRE>"], CL["▁<SUF>"], CL["▁<MID>"]
    prefix_ids = psm[psm.index(pre) + 1 : psm.index(suf)]
    suffix_ids = psm[psm.index(suf) + 1 : psm.index(mid)]
    assert spm == [vocab.bos_id, pre, suf, *suffix_ids, mid, *prefix_ids]
    # Typing extends the prefix: every id before it stays the same, so the KV cache keeps them.
    typed = runner.build_prompt(FimRequest(prefix="a = 1\nc = ", suffix="b = 2\n", order="spm"))
    assert typed[: spm.index(mid) + 1] == spm[: spm.index(mid) + 1]


def test_token_budget_keeps_whole_lines_and_a_stable_start(runners):
    from app.core.fim.budget import SNAP_LINES, fit_request

    vocab = runners["codegemma"].vocab
    lines = [f"value_{i} = compute({i}, {i * 7})" for i in range(300)]
    prefix = "\n".join(lines) + "\n    "
    request = FimRequest(prefix=prefix, suffix="\n".join(lines[:50]), prefix_tokens=2400, suffix_tokens=100)
    fitted = fit_request(vocab, request)
    assert len(vocab.tokenize(fitted.prefix, special=False)) <= 2400
    assert len(vocab.tokenize(fitted.suffix, special=False)) <= 100
    assert prefix.endswith(fitted.prefix) and fitted.prefix.startswith("value_")
    first_line = int(fitted.prefix.split(" ", 1)[0].removeprefix("value_"))
    assert first_line % SNAP_LINES == 0
    assert request.suffix.startswith(fitted.suffix)
    # Typing at the cursor does not move the window's start.
    typed = fit_request(vocab, FimRequest(prefix=prefix + "ret", suffix=request.suffix, prefix_tokens=2400))
    assert typed.prefix.split("\n", 1)[0] == fitted.prefix.split("\n", 1)[0]


def test_a_small_window_gives_up_at_most_a_quarter_of_its_lines_to_the_stable_start(runners):
    from app.core.fim.budget import fit_request

    vocab = runners["codegemma"].vocab
    lines = [f"value_{i} = compute({i}, {i * 7})" for i in range(300)]
    prefix = "\n".join(lines) + "\n"
    fitting = 0  # whole lines, counted from the cursor, that fit 160 tokens
    while len(vocab.tokenize("\n".join(lines[-fitting - 1 :]) + "\n", special=False)) <= 160:
        fitting += 1
    fitted = fit_request(vocab, FimRequest(prefix=prefix, prefix_tokens=160))
    kept = fitted.prefix.count("\n")
    assert fitting * 3 // 4 <= kept <= fitting


def test_budget_leaves_short_texts_alone(runners):
    from app.core.fim.budget import fit_request

    request = FimRequest(prefix="x = 1\n", suffix="y = 2\n")
    assert fit_request(runners["codegemma"].vocab, request) is request
