"""The ``openai`` package against the server: models, chat (streamed and not), completions with a suffix, /infill."""

from __future__ import annotations

import openai
import pytest

from app.selftest.tiny_gguf import special_token_ids
from tests.server.conftest import TOKEN

CG = special_token_ids("codegemma")
CONTROL_TEXTS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>", "<end_of_turn>", "<eos>")


@pytest.fixture(scope="module")
def client(codegemma_server):
    with openai.OpenAI(base_url=f"{codegemma_server.url}/v1", api_key=TOKEN, max_retries=0) as api:
        yield api


def test_models_lists_the_loaded_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["codegemma"]


def test_chat_answers_with_the_engines_own_usage(client, codegemma_server):
    answer = client.chat.completions.create(
        model="codegemma", messages=[{"role": "user", "content": "Say hi"}], max_tokens=12, temperature=0
    )
    stats = codegemma_server.lanes["chat"].finished[-1].stats
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage.prompt_tokens == stats.prompt_tokens > 0
    assert answer.usage.completion_tokens == stats.generated_tokens
    assert answer.usage.total_tokens == stats.prompt_tokens + stats.generated_tokens


def test_chat_streams_the_same_text_as_a_plain_answer(client):
    request = {"model": "codegemma", "messages": [{"role": "user", "content": "def"}], "max_tokens": 16}
    plain = client.chat.completions.create(**request, temperature=0, seed=3)
    chunks = list(
        client.chat.completions.create(
            **request, temperature=0, seed=3, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        plain.choices[0].finish_reason
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_completion_with_a_suffix_is_the_familys_exact_fim_layout(client, codegemma_server):
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    answer = client.completions.create(model="codegemma", prompt=prefix, suffix=suffix, max_tokens=24, temperature=0)
    lane = codegemma_server.lanes["completion"]
    finished = lane.finished[-1]
    assert (finished.request.prefix, finished.request.suffix) == (prefix, suffix)
    evaluated = lane.build_prompt(finished.request)
    tokenize = lane.engine.tokenize
    assert evaluated == [
        CG["<bos>"],
        CG["<|fim_prefix|>"],
        *tokenize(prefix)[0],
        CG["<|fim_suffix|>"],
        *tokenize(suffix)[0],
        CG["<|fim_middle|>"],
    ]
    assert answer.usage.prompt_tokens == finished.stats.prompt_tokens == len(evaluated)
    assert not any(control in answer.choices[0].text for control in CONTROL_TEXTS)


def test_fim_output_never_leaks_a_control_token(client):
    for seed in range(6):
        answer = client.completions.create(
            model="codegemma", prompt="x = ", suffix="\ny = x\n", max_tokens=48, temperature=1.5, seed=seed
        )
        assert not any(control in answer.choices[0].text for control in CONTROL_TEXTS), answer.choices[0].text


def test_streamed_completion_with_a_suffix(client):
    plain = client.completions.create(model="codegemma", prompt="a = [", suffix="]\n", max_tokens=20, temperature=0)
    stream = client.completions.create(
        model="codegemma", prompt="a = [", suffix="]\n", max_tokens=20, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in stream if c.choices) == plain.choices[0].text


def test_infill_shaped_like_llama_vscode(codegemma_server):
    body = {
        "id_slot": 0,
        "input_prefix": "import math\n\ndef area(r):\n",
        "input_suffix": "\n\nprint(area(2))\n",
        "input_extra": [{"filename": "geometry/util.py", "text": "def square(x):\n    return x * x\n"}],
        "prompt": "    return ",
        "n_predict": 32,
        "n_indent": 4,
        "top_k": 40,
        "top_p": 0.99,
        "stream": False,
        "samplers": ["top_k", "top_p", "infill"],
        "cache_prompt": True,
        "t_max_prompt_ms": 500,
        "t_max_predict_ms": 1000,
        "response_fields": ["content", "timings/prompt_n", "timings/predicted_n"],
    }
    reply = codegemma_server.client.post("/infill", json=body)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    lane = codegemma_server.lanes["completion"]
    finished = lane.finished[-1]
    assert isinstance(answer["content"], str) and answer["stop"] is True
    assert not any(control in answer["content"] for control in CONTROL_TEXTS)
    assert answer["tokens_predicted"] == finished.stats.generated_tokens
    assert answer["tokens_evaluated"] == finished.stats.prompt_tokens
    assert answer["timings"]["predicted_n"] == finished.stats.generated_tokens
    # the other file goes first behind a file separator, then the prefix with the cursor line
    request = finished.request
    assert request.prefix == body["input_prefix"] + body["prompt"] and request.suffix == body["input_suffix"]
    assert [(c.path, c.text) for c in request.chunks] == [("geometry/util.py", body["input_extra"][0]["text"])]
    evaluated = lane.build_prompt(request)
    assert evaluated[:2] == [CG["<bos>"], CG["<|file_separator|>"]] and evaluated[-1] == CG["<|fim_middle|>"]


def test_infill_streams_llama_server_events(codegemma_server):
    body = {"input_prefix": "x = ", "input_suffix": "\n", "n_predict": 8, "stream": True}
    with codegemma_server.client.stream("POST", "/infill", json=body) as reply:
        events = [line.removeprefix("data: ") for line in reply.iter_lines() if line.startswith("data: ")]
    import json

    parsed = [json.loads(e) for e in events]
    assert parsed[-1]["stop"] is True and all(p["stop"] is False for p in parsed[:-1])
    assert "tokens_predicted" in parsed[-1]


def test_an_unsupported_feature_is_a_400_the_openai_client_understands(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="codegemma", messages=[{"role": "user", "content": "hi"}], n=2)
    assert caught.value.status_code == 400
    assert "'n' is not supported" in caught.value.message


@pytest.mark.parametrize(
    "template",
    ["<|fim_prefix|>{p}<|fim_suffix|>{s}<|fim_middle|>", "<fim_prefix>{p}<fim_suffix>{s}<fim_middle>"],
)
def test_a_fim_template_written_into_the_prompt_is_served_as_exact_fim(client, codegemma_server, template):
    """Continue's autocomplete sends the model's FIM template as text, with no suffix field."""
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    answer = client.completions.create(
        model="codegemma", prompt=template.format(p=prefix, s=suffix), max_tokens=8, temperature=0
    )
    lane = codegemma_server.lanes["completion"]
    finished = lane.finished[-1]
    assert (finished.request.prefix, finished.request.suffix) == (prefix, suffix)
    evaluated = lane.build_prompt(finished.request)
    tokenize = lane.engine.tokenize
    fim = [CG["<|fim_prefix|>"], *tokenize(prefix)[0], CG["<|fim_suffix|>"], *tokenize(suffix)[0], CG["<|fim_middle|>"]]
    assert evaluated == [CG["<bos>"], *fim]
    assert not any(control in answer.choices[0].text for control in CONTROL_TEXTS)
