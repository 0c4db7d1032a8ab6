"""Search over the chat store: the SQL for a query, and the snippet shown for a hit.

Words are matched as case-insensitive substrings, through the FTS5 trigram
index when the store has one and through ``LIKE`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SNIPPET_BEFORE = 30
SNIPPET_AFTER = 70
FTS_MIN_TERM = 3  # a trigram index cannot look up anything shorter


def like_pattern(term: str) -> str:
    """Quote LIKE's wildcards so a term matches itself as a substring.

    Args:
        term: One word of the query.

    Returns:
        A pattern for ``LIKE ? ESCAPE '\\'`` against lower-cased text.
    """
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lower(value: str | None) -> str | None:
    """Lower-case text for LIKE, which folds ASCII letters only (the ``fimble_lower`` function)."""
    return value.lower() if isinstance(value, str) else value


def snippet(text: str, terms: Sequence[str]) -> str:
    """Cut a one-line excerpt of ``text`` around the first term found in it.

    Args:
        text: A message or a title.
        terms: The query's words.

    Returns:
        About a hundred characters of ``text`` on one line, with an ellipsis
        where it was cut.
    """
    found = [m for t in terms if (m := re.search(re.escape(t), text, re.IGNORECASE))]
    start = min((m.start() for m in found), default=0)
    begin = max(0, start - SNIPPET_BEFORE)
    end = min(len(text), start + SNIPPET_AFTER)
    excerpt = " ".join(text[begin:end].split())
    return ("…" if begin > 0 else "") + excerpt + ("…" if end < len(text) else "")


def search_sql(terms: Sequence[str], full_text: bool, columns: str, limit: int) -> tuple[str, list[str | int]]:
    """Build the query that finds conversations holding every term.

    Args:
        terms: The query's words (at least one).
        full_text: Whether the store has the FTS5 trigram index.
        columns: The conversation columns to select, each prefixed ``c.``.
        limit: The most rows returned.

    Returns:
        The SQL and its parameters; each row is the columns followed by the
        text of the first matching message (NULL when only the title matched).
    """
    # FTS5 query strings end at a NUL, so such terms go through LIKE too.
    long_terms = [t for t in terms if full_text and len(t) >= FTS_MIN_TERM and "\x00" not in t]
    likes = [t for t in terms if t not in long_terms]
    like_sql = "".join(" AND fimble_lower(m.content) LIKE ? ESCAPE '\\'" for _ in likes)
    params: list[str | int] = [like_pattern(t) for t in likes]
    if long_terms:
        source = "messages_fts JOIN messages AS m ON m.id = messages_fts.rowid"
        where = "messages_fts MATCH ?" + like_sql
        params.insert(0, " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms))
    else:
        source, where = "messages AS m", "1" + like_sql
    title_sql = " AND ".join("fimble_lower(c.title) LIKE ? ESCAPE '\\'" for _ in terms)
    params += [like_pattern(t) for t in terms] + [limit]
    sql = (
        f"WITH hits AS (SELECT m.conversation_id AS cid, MIN(m.position), m.content AS text"
        f" FROM {source} WHERE {where} GROUP BY m.conversation_id)"
        f" SELECT {columns}, hits.text FROM conversations AS c"
        " LEFT JOIN hits ON hits.cid = c.id"
        f" WHERE c.deleted_at IS NULL AND (hits.cid IS NOT NULL OR ({title_sql}))"
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
    )
    return sql, params
