"""An LRU cache of FIM suggestions keyed on the text around the cursor."""

from __future__ import annotations

from collections import OrderedDict

# Only the text near the cursor goes into a key, so keys stay cheap in big files.
PREFIX_KEY_CHARS = 2000
SUFFIX_KEY_CHARS = 500
# How far back ``lookup`` looks for a suggestion the user has typed into.
TYPED_LOOKBACK = 32


class CompletionCache:
    """Suggestions by (model, prefix tail, suffix head), least recently used evicted first.

    Not thread-safe: use it from one thread (the editor's).

    Args:
        capacity: The most suggestions kept.

    Raises:
        ValueError: If ``capacity`` is below 1.
    """

    def __init__(self, capacity: int = 256) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        """The number of entries held."""
        return len(self._entries)

    @staticmethod
    def key(model_id: str, prefix: str, suffix: str) -> str:
        """Hash the context of a request into a cache key.

        Args:
            model_id: Which model made (or would make) the suggestion.
            prefix: The text before the cursor; only its last
                ``PREFIX_KEY_CHARS`` characters count.
            suffix: The text after the cursor; only its first
                ``SUFFIX_KEY_CHARS`` characters count.

        Returns:
            A hex digest.
        """
        import hashlib  # not on the window's start path (its OpenSSL part is slow to load)

        digest = hashlib.blake2b(digest_size=16)
        for part in (model_id, prefix[-PREFIX_KEY_CHARS:], suffix[:SUFFIX_KEY_CHARS]):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        """Return a cached suggestion and mark it recently used.

        Args:
            key: A key from ``key``.

        Returns:
            The suggestion ("" is a cached empty suggestion), or None on a miss.
        """
        text = self._touch(key)
        if text is None:
            self.misses += 1
        else:
            self.hits += 1
        return text

    def put(self, key: str, text: str) -> None:
        """Store a suggestion as the most recently used, evicting the oldest if full.

        Args:
            key: A key from ``key``.
            text: The post-processed suggestion.
        """
        self._entries[key] = text
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def lookup(self, model_id: str, prefix: str, suffix: str) -> str | None:
        """Find a suggestion for this cursor, including one the user typed into.

        With no exact hit, the prefixes up to ``TYPED_LOOKBACK`` characters
        shorter are probed (one dictionary look-up each): if an earlier
        suggestion at ``prefix[:-k]`` starts with the ``k`` characters typed
        since, the rest of it is returned.

        Args:
            model_id: Which model's suggestions to use.
            prefix: The text before the cursor.
            suffix: The text after the cursor.

        Returns:
            The suggestion to show, or None when nothing cached applies (a
            suggestion typed out completely does not count).
        """
        text = self._touch(self.key(model_id, prefix, suffix))
        if text is None:
            for back in range(1, min(TYPED_LOOKBACK, len(prefix)) + 1):
                key = self.key(model_id, prefix[:-back], suffix)
                earlier = self._entries.get(key)
                if earlier and len(earlier) > back and earlier.startswith(prefix[-back:]):
                    self._entries.move_to_end(key)
                    text = earlier[back:]
                    break
        if text is None:
            self.misses += 1
        else:
            self.hits += 1
        return text

    def clear(self) -> None:
        """Forget every suggestion and reset the counters."""
        self._entries.clear()
        self.hits = 0
        self.misses = 0

    def _touch(self, key: str) -> str | None:
        """Return the entry for ``key`` and mark it recently used, without counting."""
        text = self._entries.get(key)
        if text is not None:
            self._entries.move_to_end(key)
        return text
