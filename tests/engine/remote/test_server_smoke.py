"""The test server itself: llama_cpp.server starts here and lists its model."""

from __future__ import annotations

import json
import urllib.request


def test_server_starts_and_lists_its_model(codellama_server):
    with urllib.request.urlopen(f"{codellama_server.base_url}/v1/models", timeout=10) as answer:
        listing = json.load(answer)
    assert [model["id"] for model in listing["data"]] == ["tiny-codellama"]
    assert codellama_server.process is not None and codellama_server.process.poll() is None
