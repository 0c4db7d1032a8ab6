"""The warm-places bookkeeping: what is kept within the budget, and which place a prompt gets."""

from __future__ import annotations

from app.core.fim.warm_places import (
    MAX_PLACES,
    MIN_PLACE_TOKENS,
    PLACE_TOKENS,
    Place,
    WarmPlaces,
    auto_budget_bytes,
    describe_budget,
)

A = list(range(1000, 1200))
B = list(range(5000, 5200))


def test_the_live_prompt_is_worth_saving_only_when_the_next_one_would_lose_it():
    places: WarmPlaces[str] = WarmPlaces(budget_bytes=1000)
    assert places.worth_saving(A, B)
    assert not places.worth_saving(A, A + [7])  # the next prompt extends it
    assert not places.worth_saving(A[: MIN_PLACE_TOKENS - 1], B)  # too short to matter
    assert not WarmPlaces(budget_bytes=0).worth_saving(A, B)
    places.remember(Place(A, "a", 10))
    assert not places.worth_saving(A, B)  # already kept


def test_the_best_place_is_taken_out_only_when_it_spares_enough():
    places: WarmPlaces[str] = WarmPlaces(budget_bytes=1000)
    places.remember(Place(A, "a", 10))
    places.remember(Place(B, "b", 10))
    assert places.take_best(A[:70] + [1], live_shared=60) is None  # 70 shared is not 16 better than 60
    found = places.take_best(A[:150] + [1], live_shared=0)
    assert found is not None and found[0].state == "a" and found[1] == 150
    assert [p.state for p in places.places] == ["b"]


def test_the_least_recently_used_go_first_to_fit_the_budget():
    places: WarmPlaces[int] = WarmPlaces(budget_bytes=100)
    for n in range(3):
        assert places.remember(Place([n] * 80, n, 40))
    assert [p.state for p in places.places] == [1, 2]
    assert not places.remember(Place([9] * 80, 9, 101))  # bigger than the whole budget
    roomy: WarmPlaces[int] = WarmPlaces(budget_bytes=10_000)
    for n in range(MAX_PLACES + 2):
        roomy.remember(Place([n] * 80, n, 1))
    assert [p.state for p in roomy.places] == list(range(2, MAX_PLACES + 2))


def test_the_automatic_budget_scales_with_the_kv_size_per_token_and_the_free_memory():
    small, large = 18 * 1024, 448 * 1024  # about the starter's and a 7B model's f16 KV bytes per token
    plenty = 64 * 2**30
    assert auto_budget_bytes(small, plenty) == MAX_PLACES * PLACE_TOKENS * small
    assert auto_budget_bytes(large, plenty) == MAX_PLACES * PLACE_TOKENS * large
    assert auto_budget_bytes(large, 4 * 2**30) == 2**30  # at most a quarter of what is free
    assert auto_budget_bytes(small, 0) == 0


def test_the_budget_is_described_in_memory_and_in_windows():
    per_token = 2**20 / PLACE_TOKENS  # one full window per MiB
    assert describe_budget(4 * 2**20, per_token) == "warm places 4 MiB (4 full windows)"
    assert describe_budget(2 * 2**20, per_token) == "warm places 2 MiB (2 full windows)"
    assert describe_budget(0, per_token) == "warm places off"
