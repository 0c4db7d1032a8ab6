"""Request bodies to core requests, and stop strings, without a server."""

from __future__ import annotations

import pytest

from app.core.generation.contracts import ChatRequest, FimRequest
from app.core.generation.stop_text import StopText
from app.server.errors import ApiError
from app.server.requests import chat_request, completion_request, infill_request, parse_body


def test_chat_maps_roles_text_parts_and_sampling():
    parsed = chat_request(
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ],
            "max_completion_tokens": 99,
            "temperature": 0,
            "seed": 7,
            "stream": True,
            "stream_options": {"include_usage": True},
            "stop": "END",
        },
        n_ctx=4096,
    )
    assert isinstance(parsed.request, ChatRequest)
    assert [(m.role, m.content) for m in parsed.request.messages] == [("system", "Be brief."), ("user", "ab")]
    assert parsed.request.sampling.max_tokens == 99 and parsed.request.sampling.seed == 7
    assert parsed.stream and parsed.include_usage and parsed.stops == ("END",)


def test_completion_without_a_suffix_continues_the_prompt_and_budgets_fit_the_context():
    plain = completion_request({"prompt": "def f():", "max_tokens": 100}, n_ctx=1024)
    assert isinstance(plain.request, FimRequest) and plain.request.allow_prefix_only
    fim = completion_request({"prompt": "a", "suffix": "b", "max_tokens": 100}, n_ctx=1024)
    assert not fim.request.allow_prefix_only
    request = fim.request
    assert request.prefix_tokens + request.suffix_tokens + request.sampling.max_tokens <= 1024


def test_infill_joins_the_cursor_line_to_the_prefix_and_minus_one_means_the_context():
    parsed = infill_request({"input_prefix": "a\n", "prompt": "  b", "n_predict": -1, "t_max_predict_ms": 250}, 2048)
    assert isinstance(parsed.request, FimRequest)
    assert parsed.request.prefix == "a\n  b" and parsed.request.sampling.max_tokens == 2048
    assert parsed.request.sampling.time_limit_s == 0.25


@pytest.mark.parametrize(
    "raw", [b"", b"\xff\xfe", b"{", b"null", b'"text"', b"[" * 100_000 + b"]" * 100_000, b'{"a": Infinity}']
)
def test_bodies_that_are_not_json_objects_are_400(raw):
    with pytest.raises(ApiError) as caught:
        parse_body(raw)
    assert caught.value.status == 400 and "\n" not in caught.value.message


def test_a_huge_integer_where_a_float_goes_is_a_400_not_an_overflow():
    with pytest.raises(ApiError, match="temperature"):
        chat_request({"messages": [{"role": "user", "content": "x"}], "temperature": 10**400}, 512)


def test_booleans_are_not_numbers():
    with pytest.raises(ApiError, match="max_tokens"):
        chat_request({"messages": [{"role": "user", "content": "x"}], "max_tokens": True}, 512)


def test_stop_strings_split_across_pieces_are_held_back_and_cut():
    scanner = StopText(("</end>",))
    sent = [scanner.feed(piece)[0] for piece in ("abc</", "en", "d>tail")]
    assert "".join(sent) == "abc" and sent[0] == "abc" and scanner.stopped
    assert scanner.finish() == "" and scanner.feed("more") == ("", True)


def test_held_text_that_was_no_stop_string_is_sent():
    scanner = StopText(("STOP",))
    assert scanner.feed("xx ST") == ("xx ", False)
    assert scanner.feed("AR") == ("STAR", False)
    assert scanner.feed("S") == ("", False)
    assert scanner.finish() == "S" and not scanner.stopped
