"""Remote engines: HTTP clients for OpenAI-compatible servers (llama-server, TGI, vLLM, Ollama, ...)."""
