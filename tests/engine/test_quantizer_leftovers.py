"""What a killed quantization leaves behind, and two windows making the same file."""

from __future__ import annotations

import hashlib

import pytest

from app.core.hub.download_lock import PartLock
from app.core.models.info import inspect_model
from app.core.models.quantize_plan import QuantizeError, plan_quantize
from app.engine.quantizer import Quantizer


def test_a_stale_part_from_a_killed_run_is_replaced_by_the_next_run(full_precision_model, tmp_path):
    output = tmp_path / "tiny-Q4_K_M.gguf"
    stale = tmp_path / "tiny-Q4_K_M.gguf.part"
    stale.write_bytes(b"GGUF and then nothing: the run that wrote this was killed")
    before = hashlib.sha256(full_precision_model.read_bytes()).hexdigest()
    assert Quantizer().run(plan_quantize(full_precision_model, output, "Q4_K_M")) == output
    assert inspect_model(output).info.file_type == "Q4_K_M"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-Q4_K_M.gguf"]  # no part, no lock file
    assert hashlib.sha256(full_precision_model.read_bytes()).hexdigest() == before


def test_an_output_another_window_is_making_is_refused_and_its_part_left_alone(full_precision_model, tmp_path):
    output = tmp_path / "tiny-Q4_K_M.gguf"
    part = tmp_path / "tiny-Q4_K_M.gguf.part"
    part.write_bytes(b"being written by the other window")
    other = PartLock(tmp_path, output.name)
    assert other.try_acquire()
    try:
        plan = plan_quantize(full_precision_model, output, "Q4_K_M")
        with pytest.raises(QuantizeError) as caught:
            Quantizer().run(plan)
    finally:
        other.release()
    assert caught.value.kind == "busy"
    assert str(caught.value) == "another Fimble window is making tiny-Q4_K_M.gguf right now; wait for it to finish"
    assert part.read_bytes() == b"being written by the other window" and not output.exists()
    assert Quantizer().run(plan) == output
