"""The self-test a packaged app runs, and the tiny GGUF models it and the tests use."""
