"""llama.cpp's threads are cut to the cores that other programs leave free."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from app.core.generation.contracts import FimRequest, Sampling
from app.core.models.load_params import LoadParams
from app.engine.cpu_share import CpuShare, free_cores, threads_for
from tests.support.engine_runs import run_job


def test_free_cores_count_only_other_programs():
    # 2 cores, the machine busy 1.8 CPU-seconds in one second, 0.8 of them ours: one core is free.
    assert free_cores(2, 1.8, 0.8, 1.0) == 1.0
    assert free_cores(4, 0.0, 0.0, 1.0) == 4.0
    assert free_cores(2, 2.0, 0.0, 1.0) == 0.0
    assert free_cores(2, 9.0, 0.0, 1.0) == 0.0  # never below zero
    assert free_cores(8, 5.0, 0.0, 0.0) == 8.0  # no interval: nothing known yet


def test_threads_are_cut_to_the_free_cores_and_never_below_one():
    assert threads_for(4, 8.0) == 4
    assert threads_for(4, 2.0) == 2
    assert threads_for(4, 1.8) == 2  # a core mostly free counts
    assert threads_for(4, 0.0) == 1


def _busy_programs(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def _stop(programs: list[subprocess.Popen]) -> None:
    for program in programs:
        program.kill()
        program.wait()


def test_the_sampler_sees_other_programs_keep_the_cores_busy():
    share = CpuShare(interval_s=60)  # sampled by hand below
    programs = _busy_programs(share.cores)
    try:
        time.sleep(0.3)
        share.update()
        time.sleep(1.0)
        assert share.update() < 1.0  # every core is taken by another program
    finally:
        _stop(programs)
        share.close()


def test_a_busy_machine_evaluates_prompts_with_one_thread(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    programs = _busy_programs(psutil.cpu_count() or 1)
    try:
        time.sleep(1.5)  # two samples of the host's sampler see them
        request = FimRequest(
            "def area(r):\n    return ", "\n", sampling=Sampling(max_tokens=2, temperature=0.0, ignore_eos=True)
        )
        _, stats = run_job(host, 1, request)
    finally:
        _stop(programs)
    assert stats.threads == 1
    assert stats.generated_tokens >= 1
