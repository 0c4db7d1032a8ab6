"""The LRU cache of FIM suggestions and its typed-into-the-suggestion look-up."""

import pytest

from app.core.fim.cache import CompletionCache

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


def test_exact_hit_and_miss_counters():
    cache = CompletionCache()
    key = cache.key("model-a", PREFIX, SUFFIX)
    assert cache.get(key) is None
    cache.put(key, "return a + b")
    assert cache.get(key) == "return a + b"
    assert cache.lookup("model-a", PREFIX, SUFFIX) == "return a + b"
    assert (cache.hits, cache.misses) == (2, 1)


def test_key_depends_on_model_and_nearby_text_only():
    cache = CompletionCache()
    key = cache.key("m", PREFIX, SUFFIX)
    assert key == cache.key("m", PREFIX, SUFFIX)
    assert key != cache.key("other", PREFIX, SUFFIX)
    assert key != cache.key("m", PREFIX + "x", SUFFIX)
    assert key != cache.key("m", PREFIX, SUFFIX + "x")
    # Text far from the cursor does not change the key.
    near = "    x = 1\n" * 250 + PREFIX
    assert cache.key("m", "# old\n" + near, SUFFIX) == cache.key("m", "# new\n" + near, SUFFIX)
    ahead = SUFFIX + "    y = 2\n" * 50
    assert cache.key("m", PREFIX, ahead + "# old") == cache.key("m", PREFIX, ahead + "# new")
    # Parts are length-delimited, so moving text between them changes the key.
    assert cache.key("ab", "c", "") != cache.key("a", "bc", "")


def test_lru_eviction_keeps_recently_used():
    cache = CompletionCache(capacity=2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # "a" is now newer than "b".
    cache.put("c", "3")
    assert cache.get("b") is None
    assert cache.get("a") == "1"
    assert cache.get("c") == "3"
    assert len(cache) == 2


def test_put_replaces_an_existing_entry():
    cache = CompletionCache(capacity=2)
    cache.put("a", "old")
    cache.put("a", "new")
    assert cache.get("a") == "new"
    assert len(cache) == 1


def test_typed_prefix_returns_the_rest_of_the_suggestion():
    cache = CompletionCache()
    cache.put(cache.key("m", PREFIX, SUFFIX), "return a + b")
    assert cache.lookup("m", PREFIX + "r", SUFFIX) == "eturn a + b"
    assert cache.lookup("m", PREFIX + "return a", SUFFIX) == " + b"
    assert cache.lookup("m", PREFIX + "x", SUFFIX) is None
    # Typed out completely: nothing left to suggest.
    assert cache.lookup("m", PREFIX + "return a + b", SUFFIX) is None
    # Another model's suggestion is never used.
    assert cache.lookup("other", PREFIX + "r", SUFFIX) is None
    assert (cache.hits, cache.misses) == (2, 3)


def test_backspace_and_retype_hits():
    cache = CompletionCache()
    cache.put(cache.key("m", PREFIX, SUFFIX), "return a + b")
    typed = PREFIX + "ret"
    assert cache.lookup("m", typed, SUFFIX) == "urn a + b"
    # Backspace twice, then type again: every state is answered from the cache.
    assert cache.lookup("m", typed[:-1], SUFFIX) == "turn a + b"
    assert cache.lookup("m", PREFIX, SUFFIX) == "return a + b"
    assert cache.lookup("m", PREFIX + "re", SUFFIX) == "turn a + b"


def test_lookback_is_limited_to_32_characters():
    cache = CompletionCache()
    suggestion = "x" * 40 + "!"
    cache.put(cache.key("m", PREFIX, SUFFIX), suggestion)
    assert cache.lookup("m", PREFIX + "x" * 32, SUFFIX) == "x" * 8 + "!"
    assert cache.lookup("m", PREFIX + "x" * 33, SUFFIX) is None


def test_lookup_prefers_the_nearest_earlier_suggestion():
    cache = CompletionCache()
    cache.put(cache.key("m", PREFIX, SUFFIX), "return a + b")
    cache.put(cache.key("m", PREFIX + "re", SUFFIX), "turn sum((a, b))")
    assert cache.lookup("m", PREFIX + "ret", SUFFIX) == "urn sum((a, b))"


def test_typed_prefix_hit_needs_the_same_suffix():
    cache = CompletionCache()
    cache.put(cache.key("m", PREFIX, SUFFIX), "return a + b")
    assert cache.lookup("m", PREFIX + "r", "\n# changed\n") is None


def test_lookup_with_short_prefix():
    cache = CompletionCache()
    cache.put(cache.key("m", "", ""), "import os")
    assert cache.lookup("m", "im", "") == "port os"
    assert cache.lookup("m", "", "") == "import os"


def test_cached_empty_suggestion_is_a_hit():
    cache = CompletionCache()
    cache.put(cache.key("m", PREFIX, SUFFIX), "")
    assert cache.lookup("m", PREFIX, SUFFIX) == ""


def test_clear():
    cache = CompletionCache()
    cache.put("a", "1")
    cache.get("a")
    cache.clear()
    assert len(cache) == 0
    assert (cache.hits, cache.misses) == (0, 0)
    assert cache.get("a") is None


def test_bad_capacity_is_refused():
    with pytest.raises(ValueError):
        CompletionCache(capacity=0)
