"""The real ``llama_cpp.server`` process for tests; it lives in ``bench`` so that ``bench remote`` can start it too."""

from bench.llama_server import LlamaServer, LlamaServerError, free_port

__all__ = ["LlamaServer", "LlamaServerError", "free_port"]
