"""Chat answers (Markdown) as plain text, for "copy message as text"."""

from __future__ import annotations

from markdown_it.tree import SyntaxTreeNode

from app.core.markdown.parser import parse

_INLINE_CONTAINERS = frozenset({"em", "strong", "s"})


def plain_text(markdown: str) -> str:
    """Return a chat answer as plain text.

    Args:
        markdown: The answer's Markdown.

    Returns:
        The text with Markdown markers removed: no ``#``, ``**``, backticks or
        link brackets (a link becomes ``text (url)``), list items as ``•`` or
        ``1.`` lines, table rows as tab-separated cells, and code blocks kept
        verbatim without their fences. Raw HTML and refused links stay as
        written.
    """
    return _blocks(SyntaxTreeNode(parse(markdown)).children, "\n\n")


def _blocks(nodes: list[SyntaxTreeNode], separator: str) -> str:
    """Render block nodes, joined by ``separator``; rules leave nothing."""
    parts = (_block(node) for node in nodes)
    return separator.join(part for part in parts if part is not None)


def _block(node: SyntaxTreeNode) -> str | None:
    """Render one block node, or return None for a rule."""
    kind = node.type
    if kind in ("paragraph", "heading"):
        return _inline(node.children)
    if kind == "fence":
        return node.content[:-1] if node.content.endswith("\n") else node.content
    if kind == "blockquote":
        return _blocks(node.children, "\n\n")
    if kind == "table":
        rows = [row for section in node.children for row in section.children]
        return "\n".join("\t".join(_inline(cell.children) for cell in row.children) for row in rows)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    return None


def _list(node: SyntaxTreeNode) -> str:
    """Render a list: one marker per item, later lines indented under its text."""
    ordered = node.type == "ordered_list"
    start = int(str(node.attrGet("start") or 1)) if ordered else 1
    lines: list[str] = []
    for number, item in enumerate(node.children, start):
        marker = f"{number}. " if ordered else "• "
        text = _blocks(item.children, "\n").split("\n")
        lines.append(marker + text[0])
        lines.extend(" " * len(marker) + line if line else line for line in text[1:])
    return "\n".join(lines)


def _inline(nodes: list[SyntaxTreeNode]) -> str:
    """Render inline nodes (or the one ``inline`` node of a block) as text."""
    out: list[str] = []
    for node in nodes:
        kind = node.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(node.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "inline" or kind in _INLINE_CONTAINERS:
            out.append(_inline(node.children))
        elif kind in ("link", "image"):
            url = str(node.attrGet("href" if kind == "link" else "src") or "")
            label = _inline(node.children)
            out.append(url if not label or label in (url, url.removeprefix("mailto:")) else f"{label} ({url})")
    return "".join(out)
