"""Where an offered catalog model is pulled from: a ready community file first, else the publisher's to quantize."""

from __future__ import annotations

import pytest

from app.core.errors import ErrorKind
from app.core.hub.client import HubClient, HubError
from app.core.hub.setup_plan import plan_for_entry
from app.core.models.catalog import find_entry


def _entry(key: str):
    entry = find_entry(key)
    assert entry is not None
    return entry


def test_a_ready_community_file_is_taken_as_it_is(hub, tiny_models):
    hub.add_repo("bartowski/codegemma-2b-GGUF", {"codegemma-2b-Q4_K_M.gguf": tiny_models["codegemma"]})
    hub.add_repo("google/codegemma-2b-GGUF", {"codegemma-2b.gguf": tiny_models["codegemma"]}, gated=True)
    plan = plan_for_entry(_entry("codegemma-2b"), "Q4_K_M", HubClient())
    assert plan.repo_id == "bartowski/codegemma-2b-GGUF" and plan.quantize_to is None
    assert plan.file.filename == "codegemma-2b-Q4_K_M.gguf"


def test_without_a_community_copy_the_official_file_is_quantized_locally(hub, full_precision_model):
    hub.add_repo("google/codegemma-2b-GGUF", {"codegemma-2b.gguf": full_precision_model}, gated=True)
    plan = plan_for_entry(_entry("codegemma-2b"), "Q4_K_M", HubClient())
    assert plan.repo_id == "google/codegemma-2b-GGUF" and plan.quantize_to == "Q4_K_M"
    assert plan.details.gated


def test_when_no_source_is_there_the_reason_is_given(hub):
    with pytest.raises(HubError) as missing:
        plan_for_entry(_entry("codegemma-2b"), "Q4_K_M", HubClient())
    assert missing.value.kind == ErrorKind.NOT_FOUND


def test_offline_stops_at_the_first_source(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError) as offline:
        plan_for_entry(_entry("codegemma-1.1-7b-it"), "Q4_K_M", HubClient())
    assert offline.value.kind == ErrorKind.OFFLINE
