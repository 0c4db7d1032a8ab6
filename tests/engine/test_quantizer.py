"""Quantizing with llama.cpp's own quantizer in a child process, for real."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from pathlib import Path

import pytest

from app.core import machine
from app.core.models.info import inspect_model
from app.core.models.quantize_plan import (
    QuantizeError,
    QuantizePlan,
    QuantizeProgress,
    default_output_path,
    plan_quantize,
    source_is_full_precision,
)
from app.engine.quantize_child import LEVEL_CONT, LogLines, parse_progress
from app.engine.quantizer import Quantizer
from app.selftest.tiny_gguf import write_tiny_gguf

# Rows of 256 and 512 values fill whole k-quant blocks, so Q4_K_M really applies.
SHAPE = dict(n_embd=256, n_ff=512, n_head=4, n_head_kv=2)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A tiny F16 and F32 CodeGemma, and a Q8_0 made from the F16 one."""
    folder = tmp_path_factory.mktemp("quantize-sources")
    f16 = write_tiny_gguf(folder / "tiny-f16.gguf", "codegemma", file_type="F16", **SHAPE)
    f32 = write_tiny_gguf(folder / "tiny-f32.gguf", "codegemma", file_type="F32", **SHAPE)
    q8 = Quantizer().run(plan_quantize(f16, folder / "tiny-Q8_0.gguf", "Q8_0"))
    return {"F16": f16, "F32": f32, "Q8_0": q8}


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# ---- the log format ------------------------------------------------------------


def test_progress_lines_are_parsed_from_fragments():
    lines = []
    reader = LogLines(lambda level, line: lines.append((level, line)))
    for fragment in (
        "[   2/  20] token_embd.weight                    - [   256,   1222,      1,      1], type =    f16, ",
        "converting to q6_K .. ",
        "size =     0.60 MiB ->     0.24 MiB\n",
        "llama_model_quantize_impl: model size  =     2.85 MiB (16.01 BPW)\nsecond line\n",
        "partial",
    ):
        reader.feed(2, fragment)
    reader.feed(LEVEL_CONT, " end\n")
    reader.feed(4, "no newline at the end")
    reader.flush()
    assert [line for _, line in lines][1:] == [
        "llama_model_quantize_impl: model size  =     2.85 MiB (16.01 BPW)",
        "second line",
        "partial end",
        "no newline at the end",
    ]
    assert lines[-1][0] == 4 and lines[-2][0] == 2
    assert parse_progress(lines[0][1]) == (2, 20, "token_embd.weight")
    assert parse_progress("[ 291/ 291]   blk.27.ffn_up.weight - [ 3072, 24576, 1, 1], type = f16, size = 1") == (
        291,
        291,
        "blk.27.ffn_up.weight",
    )
    assert parse_progress(lines[1][1]) is None


# ---- quantizing ------------------------------------------------------------------


@pytest.mark.parametrize("qtype", ["Q4_K_M", "Q8_0"])
def test_quantizes_a_full_precision_model_that_then_runs(models, tmp_path, qtype):
    source = models["F16"]
    output = tmp_path / f"tiny-{qtype}.gguf"
    plan = plan_quantize(source, output, qtype.lower())
    assert (plan.qtype, plan.source_type) == (qtype, "F16")
    progress: list[QuantizeProgress] = []

    assert Quantizer().run(plan, on_progress=progress.append, threads=2) == output

    info = inspect_model(output).info
    assert info.file_type == qtype
    assert output.stat().st_size < source.stat().st_size
    assert plan.estimated_bytes == pytest.approx(output.stat().st_size, rel=0.35)
    tensors = {t.name for t in inspect_model(source).file.tensors}
    assert [p.done for p in progress] == list(range(1, len(tensors) + 1))
    assert {p.total for p in progress} == {len(tensors)}
    assert {p.tensor for p in progress} == tensors
    assert listing(tmp_path) == {output.name}

    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(output), n_ctx=64, verbose=False)
    try:
        prompt = llm.tokenize(b"def main", add_bos=True)
        generated = []
        for token in llm.generate(prompt, temp=0.0):
            generated.append(token)
            if len(generated) == 4:
                break
        assert len(generated) == 4 and all(0 <= t < llm.n_vocab() for t in generated)
    finally:
        llm.close()


def test_an_f32_source_works_too(models, tmp_path):
    output = Quantizer().run(plan_quantize(models["F32"], tmp_path / "out.gguf", "Q4_0"))
    assert inspect_model(output).info.file_type == "Q4_0"


def test_refuses_to_requantize_unless_forced(models, tmp_path):
    output = tmp_path / "again.gguf"
    with pytest.raises(QuantizeError) as err:
        plan_quantize(models["Q8_0"], output, "Q4_K_M")
    assert err.value.kind == "requantize"
    assert "tiny-Q8_0.gguf is already quantized (Q8_0)" in err.value.message and "--force" in err.value.message

    plan = plan_quantize(models["Q8_0"], output, "Q4_K_M", force=True)
    assert plan.source_type == "Q8_0"
    Quantizer().run(plan)
    assert inspect_model(output).info.file_type == "Q4_K_M"


def test_source_is_full_precision(models, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model")
    assert source_is_full_precision(models["F16"]) and source_is_full_precision(models["F32"])
    assert not source_is_full_precision(models["Q8_0"])
    assert not source_is_full_precision(junk) and not source_is_full_precision(tmp_path / "missing.gguf")


# ---- cancel and failures --------------------------------------------------------


def test_cancel_ends_the_child_mid_way_and_leaves_nothing(tmp_path):
    # IQ3_S on one thread is slow enough (seconds) for the cancel to land mid-way.
    source = write_tiny_gguf(tmp_path / "src" / "bigger.gguf", "codegemma", n_layers=16, file_type="F16", **SHAPE)
    out_dir = tmp_path / "out"
    plan = plan_quantize(source, out_dir / "bigger-IQ3_S.gguf", "IQ3_S")
    quantizer = Quantizer()
    seen: list[QuantizeProgress] = []
    pids: list[int] = []

    def on_progress(progress: QuantizeProgress) -> None:
        seen.append(progress)
        if len(seen) == 1:
            pids.append(quantizer.pid)
            threading.Thread(target=quantizer.cancel).start()

    with pytest.raises(QuantizeError) as err:
        quantizer.run(plan, on_progress=on_progress, threads=1)
    assert err.value.kind == "cancelled"
    assert seen and seen[-1].done < seen[-1].total
    assert quantizer.last_exitcode is not None and quantizer.last_exitcode != 0
    assert quantizer.pid is None
    if sys.platform != "win32":
        assert process_gone(pids[0])
    assert listing(out_dir) == set()


def test_cancel_before_run_starts_nothing(models, tmp_path):
    quantizer = Quantizer()
    quantizer.cancel()
    with pytest.raises(QuantizeError) as err:
        quantizer.run(plan_quantize(models["F16"], tmp_path / "out.gguf", "Q8_0"))
    assert err.value.kind == "cancelled" and listing(tmp_path) == set()
    assert quantizer.last_exitcode is None


def test_llama_cpp_failure_is_one_line_and_leaves_nothing(models, tmp_path):
    # Q2_K_S needs an importance matrix; llama.cpp refuses it and says why.
    plan = QuantizePlan(models["F16"], tmp_path / "out.gguf", "Q2_K_S", "F16", 0, 0)
    with pytest.raises(QuantizeError) as err:
        Quantizer().run(plan)
    assert err.value.kind == "failed"
    assert err.value.message.startswith("llama.cpp could not quantize tiny-f16.gguf: ")
    assert "imatrix" in err.value.message and "\n" not in err.value.message
    assert listing(tmp_path) == set()


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_a_child_that_dies_is_a_failure(tmp_path):
    source = write_tiny_gguf(tmp_path / "src" / "bigger.gguf", "codegemma", n_layers=16, file_type="F16", **SHAPE)
    out_dir = tmp_path / "out"
    quantizer = Quantizer()

    def on_progress(progress: QuantizeProgress) -> None:
        if progress.done == 1:
            os.kill(quantizer.pid, signal.SIGKILL)

    with pytest.raises(QuantizeError) as err:
        quantizer.run(plan_quantize(source, out_dir / "out.gguf", "IQ3_S"), on_progress=on_progress, threads=1)
    assert err.value.kind == "failed"
    assert "stopped unexpectedly (killed by SIGKILL" in err.value.message
    assert listing(out_dir) == set()


# ---- checks before anything is written ----------------------------------------


def test_too_little_disk_is_refused(models, tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "disk_free", lambda path: 100_000)
    with pytest.raises(QuantizeError) as err:
        plan_quantize(models["F16"], tmp_path / "out.gguf", "Q4_K_M")
    assert err.value.kind == "disk_full"
    assert re.search(r"needs about [\d.]+ [KM]B, 100 KB is free$", err.value.message)
    assert listing(tmp_path) == set()


def test_too_little_memory_is_refused(models, tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "memory", lambda: machine.Memory(16 * 10**9, 50 * 10**6))
    with pytest.raises(QuantizeError) as err:
        plan_quantize(models["F16"], tmp_path / "out.gguf", "Q4_K_M")
    assert err.value.kind == "ram" and "50.0 MB is available" in err.value.message
    assert listing(tmp_path) == set()


def test_unknown_memory_is_not_a_refusal(models, tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "memory", lambda: machine.Memory(0, 0))
    plan = plan_quantize(models["F16"], tmp_path / "out.gguf", "Q4_K_M")
    largest = max(t.nbytes + 8 * t.elements for t in inspect_model(models["F16"]).file.tensors)
    assert plan.needs_ram_bytes == largest + 256 * 1024 * 1024


@pytest.mark.parametrize(
    ("qtype", "words"),
    [("Q9_Z", "unknown quantization type"), ("F16", "full precision"), ("IQ2_XXS", "importance matrix")],
)
def test_bad_types_are_refused(models, tmp_path, qtype, words):
    with pytest.raises(QuantizeError) as err:
        plan_quantize(models["F16"], tmp_path / "out.gguf", qtype)
    assert err.value.kind == "input" and words in err.value.message and "Q4_K_M" in err.value.message


def test_bad_sources_and_outputs_are_refused(models, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model at all, just some text")
    taken = tmp_path / "taken.gguf"
    taken.write_bytes(b"x")
    cases = [
        (junk, tmp_path / "a.gguf", "not a GGUF file"),
        (tmp_path / "missing.gguf", tmp_path / "b.gguf", "no such file"),
        (models["F16"], taken, "already exists"),
        (models["F16"], models["F16"], "overwrite the source"),
    ]
    for source, output, words in cases:
        with pytest.raises(QuantizeError) as err:
            plan_quantize(source, output, "Q4_K_M")
        assert err.value.kind == "input" and words in err.value.message
    assert listing(tmp_path) == {"junk.gguf", "taken.gguf"}


def test_an_output_that_appears_after_planning_is_kept(models, tmp_path):
    plan = plan_quantize(models["F16"], tmp_path / "out.gguf", "Q8_0")
    plan.output.write_bytes(b"mine")
    with pytest.raises(QuantizeError) as err:
        Quantizer().run(plan)
    assert err.value.kind == "input" and plan.output.read_bytes() == b"mine"


def test_default_output_path():
    assert default_output_path("/m/codegemma-7b-it-f16.gguf", "q4_k_m") == Path("/m/codegemma-7b-it-Q4_K_M.gguf")
    assert default_output_path("/m/codegemma-7b.gguf", "Q8_0") == Path("/m/codegemma-7b-Q8_0.gguf")
    assert default_output_path("/m/Model.BF16.gguf", "Q6_K") == Path("/m/Model.Q6_K.gguf")
