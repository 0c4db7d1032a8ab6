"""Markdown to the HTML subset Qt's rich text shows."""
