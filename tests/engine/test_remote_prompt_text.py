"""Text FIM prompts for string-only servers, tokenized as a llama.cpp server would.

A string-only server built on llama.cpp tokenizes the prompt with special
tokens parsed and puts BOS in front; the result must be the local family's
token ids, so a remote model sees what a local one would.
"""

from __future__ import annotations

import pytest

from app.core.remote.prompts import fim_text
from tests.support.fim_requests import SHAPED_REQUESTS

REQUESTS = SHAPED_REQUESTS


def as_server_reads_it(runner, text):
    vocab = runner.vocab
    return ([vocab.bos_id] if vocab.add_bos else []) + vocab.tokenize(text, special=True)


@pytest.mark.parametrize("request_", REQUESTS)
def test_codegemma_text_prompt_is_the_local_prompt(runners, request_):
    runner = runners["codegemma"]
    text = fim_text("codegemma", request_.prefix, request_.suffix, request_.chunks, request_.order, path=request_.path)
    assert as_server_reads_it(runner, text) == runner.build_prompt(request_)


@pytest.mark.parametrize("request_", REQUESTS)
def test_codellama_vocabulary_spelling_is_the_local_prompt_but_one_space(runners, request_):
    runner = runners["codellama"]
    text = fim_text("codellama", request_.prefix, request_.suffix, order=request_.order, vocab_spelling=True)
    remote, local = as_server_reads_it(runner, text), runner.build_prompt(request_)
    suf = runner.vocab.token_id("\u2581<SUF>")
    cut_local, cut_remote = local.index(suf) + 1, remote.index(suf) + 1
    # Up to and including <SUF>: the same ids, control tokens included.
    assert remote[:cut_remote] == local[:cut_local]
    # After it llama.cpp adds the space SentencePiece puts before text that follows a control token.
    detok = runner.llama.detokenize
    assert detok(remote[cut_remote:], special=True).decode() == " " + detok(local[cut_local:], special=True).decode()


def test_codellama_plain_spelling_is_not_read_as_control_tokens_by_llama_cpp(runners):
    runner = runners["codellama"]
    ids = as_server_reads_it(runner, fim_text("codellama", "a", "b"))
    assert runner.vocab.token_id("\u2581<PRE>") not in ids
