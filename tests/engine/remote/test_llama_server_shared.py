"""The client and engine tests written for llama-cpp-python's server, run again on llama-server.

The test functions are imported from their modules, so pytest collects them
here too, with this module's fixtures: ``codellama_server``, ``keyed_server``
and ``starter_server`` are llama.cpp's own llama-server serving the same
models under the same names. Tests that check something only llama-cpp-python
does (its ``echo``, its kind, its text prompts) are not imported.
"""

from __future__ import annotations

import pytest

from tests.engine.remote.test_client_errors import (  # noqa: F401 - collected here with this module's fixtures
    test_a_wrong_key_gets_the_api_key_message,
    test_no_key_gets_the_needs_a_key_message_and_the_right_key_works,
)
from tests.engine.remote.test_client_stream import (  # noqa: F401
    test_a_cancel_set_before_the_request_sends_nothing,
    test_a_stop_string_cuts_the_answer,
    test_cancel_mid_stream_ends_the_stream_and_the_server_serves_the_next_request,
    test_chat_streams_the_same_answer_as_an_unstreamed_request,
    test_streamed_fim_text_equals_the_unstreamed_answer,
    test_the_real_model_streams_a_completion_equal_to_the_unstreamed_one,
)
from tests.engine.remote.test_remote_engine import (  # noqa: F401
    test_a_fim_answer_is_what_the_server_gives_for_the_exact_prompt,
    test_a_wrong_key_is_one_clear_line,
    test_cancel_closes_the_stream_and_the_next_request_is_served,
    test_chat_streams_through_the_chat_endpoint_with_the_right_key,
)
from tests.support.llama_cpp_server import LlamaCppServer


@pytest.fixture(scope="module")
def codellama_server(codellama_llama_server):
    """llama-server with the tiny Code Llama-shaped model, as ``tiny-codellama``."""
    return codellama_llama_server


@pytest.fixture(scope="module")
def keyed_server(keyed_llama_server):
    """llama-server with the tiny generic model, wanting ``API_KEY``."""
    return keyed_llama_server


@pytest.fixture(scope="module")
def starter_server(llama_server_bin, starter_model):
    """llama-server with the real starter model (Gemma 3 270M)."""
    with LlamaCppServer(llama_server_bin, starter_model, alias="gemma-3-270m", n_ctx=2048) as server:
        yield server
