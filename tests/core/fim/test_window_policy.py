"""The FIM window sized to the machine: speed to window, clamping, idle growth, a pinned size."""

from __future__ import annotations

import pytest

from app.core.fim.window_policy import MIN_MEASURED_TOKENS, WINDOW_STEP, SpeedEstimate, WindowPolicy, describe

POLICY = WindowPolicy(target_s=1.0, floor_tokens=256, full_tokens=2048, suffix_share=0.25)


def test_the_window_is_what_the_machine_evaluates_within_the_target():
    assert POLICY.window(1000.0) == 896  # 1000 tokens in 1 s, rounded down to a step
    assert POLICY.window(1000.0) % WINDOW_STEP == 0
    assert WindowPolicy(target_s=0.5).window(1000.0) == 480  # below 4 steps, a quarter step
    # Small drifts of the estimate keep the same window (and so the same prefix start).
    assert POLICY.window(1010.0) == POLICY.window(1020.0) == POLICY.window(1000.0)


def test_the_window_is_clamped_between_the_floor_and_the_full_budget():
    assert POLICY.window(10.0) == 256
    assert POLICY.window(50_000.0) == 2048


def test_an_unmeasured_speed_gives_the_smallest_window():
    # Before the first measurement nothing says the model is fast: a slow one would take seconds.
    assert WindowPolicy().window(0.0) == WindowPolicy().unmeasured_tokens == WindowPolicy().floor_tokens == 64
    assert POLICY.window(0.0) == 256  # clamped to this policy's floor


def test_idle_time_grows_the_window_step_by_step_up_to_the_full_budget():
    cold = POLICY.window(300.0)
    assert cold == 288
    assert POLICY.window(300.0, idle_s=POLICY.grow_after_s - 0.1) == cold
    assert POLICY.window(300.0, idle_s=POLICY.grow_after_s) == 576
    assert POLICY.window(300.0, idle_s=POLICY.grow_after_s + POLICY.grow_every_s) == 1152
    assert POLICY.window(300.0, idle_s=600.0) == 2048
    sizes = [POLICY.window(300.0, idle_s=t / 2) for t in range(40)]
    assert sizes == sorted(sizes)  # never shrinks while the user stays idle


def test_a_pinned_size_wins_over_speed_and_idleness():
    assert POLICY.window(10.0, pinned=3000) == 3000
    assert POLICY.window(50_000.0, idle_s=100.0, pinned=300) == 300


def test_split_keeps_the_prefix_suffix_proportion():
    assert POLICY.split(2048) == (1536, 512)
    assert POLICY.split(512) == (384, 128)
    prefix, suffix = POLICY.split(1)
    assert prefix >= 1 and suffix == 0


def test_bad_policies_are_refused():
    with pytest.raises(ValueError):
        WindowPolicy(floor_tokens=4096, full_tokens=2048)
    with pytest.raises(ValueError):
        WindowPolicy(suffix_share=1.0)
    with pytest.raises(ValueError):
        WindowPolicy(target_s=0.0)


def test_the_speed_estimate_is_smoothed_and_ignores_tiny_evaluations():
    speed = SpeedEstimate(smoothing=0.5)
    assert speed.tokens_per_s == 0.0
    assert not speed.observe(MIN_MEASURED_TOKENS - 1, 1.0)  # a few tokens: fixed costs, not speed
    assert not speed.observe(500, 0.0)
    assert speed.observe(1000, 1000.0) and speed.tokens_per_s == pytest.approx(1000.0)
    assert speed.observe(1000, 500.0) and speed.tokens_per_s == pytest.approx(1500.0)
    assert speed.samples == 2
    speed.reset()
    assert (speed.tokens_per_s, speed.samples) == (0.0, 0)


def test_describe_says_where_the_size_came_from():
    assert describe(896, 1000.0, pinned=False) == (
        "completion window 896 tokens (sized to this machine) · 1000 prompt tokens/s measured"
    )
    assert "pinned" in describe(300, 0.0, pinned=True) and "not measured" in describe(300, 0.0, pinned=True)


def test_a_wobbling_speed_does_not_flip_the_window():
    window = POLICY.settle(0, 1000.0)
    assert window == 896
    for speed in (1100.0, 950.0, 1150.0, 900.0, 1050.0):
        window = POLICY.settle(window, speed)
        assert window == 896  # within a quarter of the ideal: the prompt's start stays put
    assert POLICY.settle(window, 2000.0) == 1920  # a real change moves it
    assert POLICY.settle(window, 300.0) == 288
    assert POLICY.window(1000.0, cold=1024) == 1024
    assert POLICY.window(1000.0, cold=1024, idle_s=POLICY.grow_after_s) == 2048
