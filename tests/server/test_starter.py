"""The real starter model behind the server, through the openai client."""

from __future__ import annotations

import openai
import pytest

from tests.server.conftest import TOKEN, start_served, stop_served


@pytest.mark.starter
@pytest.mark.slow
def test_the_starter_model_chats_and_continues_a_prompt(starter_model, tmp_path):
    model = str(starter_model)
    served, engines = start_served({"chat": model, "completion": model}, tmp_path)
    try:
        with openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0) as client:
            chunks = list(
                client.chat.completions.create(
                    model=served.lanes["chat"].model_id,
                    messages=[{"role": "user", "content": "What is the capital of France? One word."}],
                    max_tokens=16,
                    temperature=0,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text.strip()
            assert chunks[-1].usage.completion_tokens == served.lanes["chat"].finished[-1].stats.generated_tokens
            assert "<end_of_turn>" not in text and "<start_of_turn>" not in text
            more = client.completions.create(
                model=served.lanes["completion"].model_id, prompt="1, 2, 3, 4,", max_tokens=6, temperature=0
            )
            assert more.usage.prompt_tokens == served.lanes["completion"].finished[-1].stats.prompt_tokens
            assert more.choices[0].text.strip()
    finally:
        stop_served(served, engines)
