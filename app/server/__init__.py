"""Fimble's own OpenAI-compatible server: the loaded models on 127.0.0.1 for editors and scripts.

``api`` builds the Starlette app, ``requests`` turns JSON bodies into core
requests, ``roles`` drives each engine from one worker thread, ``guard`` holds
the safety checks (Host allowlist, bearer token, body limit) and ``runner``
serves it all with uvicorn on its own thread.
"""

DEFAULT_PORT = 8012  # what llama.vscode and llama.vim point at out of the box
