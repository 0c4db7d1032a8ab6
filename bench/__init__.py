"""Fimble's benchmarks; run one with ``python -m bench NAME [--quick] [--json]``."""
