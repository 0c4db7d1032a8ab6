"""Fimble: an offline coding assistant for the desktop."""

__version__ = "0.1.0"
