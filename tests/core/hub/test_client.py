"""HubClient and token storage against a local Hub look-alike, through the real huggingface_hub."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants as hf_constants

from app.core.hub.client import HubClient, HubError
from app.core.hub.token import delete_token, load_token, save_token
from tests.support.hub_server import HubServer

REPO = "google/codegemma-7b-GGUF"
FULL = b"GGUF" + bytes(range(256)) * 40
Q4 = b"GGUF" + b"\x01\x02" * 3000


@pytest.fixture
def repos(hub):
    hub.add_repo(
        REPO,
        {"codegemma-7b.gguf": FULL, "codegemma-7b-it-Q4_K_M.gguf": Q4, "README.md": b"# card"},
        downloads=9000,
        likes=120,
        license="gemma",
        last_modified="2024-04-09T12:30:00.000Z",
    )
    hub.add_repo(
        "TheBloke/CodeLlama-7B-GGUF",
        {"codellama-7b.Q8_0.gguf": b"GGUF" + b"\0" * 500},
        downloads=50_000,
        likes=300,
        license="llama2",
        last_modified="2023-08-25T10:00:00.000Z",
    )
    hub.add_repo("google/codegemma-7b", {"model.safetensors": b"\0" * 64}, tags=("safetensors",), downloads=99_999)
    hub.add_repo(
        "google/codegemma-gated-GGUF", {"codegemma-gated-Q8_0.gguf": b"GGUF" + b"\0" * 64}, gated=True, downloads=10
    )
    return hub


def test_search_returns_gguf_repos_with_downloads_likes_update_and_license(repos):
    results = HubClient().search("codegemma")
    assert [r.repo_id for r in results] == [REPO, "google/codegemma-gated-GGUF"]  # most downloaded first
    top = results[0]
    assert (top.downloads, top.likes, top.license, top.gated) == (9000, 120, "gemma", False)
    assert top.last_modified.startswith("2024-04-09T12:30:00")
    assert results[1].gated is True
    everything = HubClient().search("", limit=10)
    assert [r.repo_id for r in everything][0] == "TheBloke/CodeLlama-7B-GGUF"
    assert "google/codegemma-7b" not in {r.repo_id for r in everything}  # not a GGUF repository
    assert len(HubClient().search("", limit=1)) == 1


def test_repo_lists_gguf_files_with_sizes_sha256_and_quant_types(repos):
    details = HubClient().repo(REPO)
    assert details.revision == repos.commit(REPO) and len(details.revision) == 40
    by_name = {f.filename: f for f in details.files}
    assert set(by_name) == {"codegemma-7b.gguf", "codegemma-7b-it-Q4_K_M.gguf"}  # README left out
    full, q4 = by_name["codegemma-7b.gguf"], by_name["codegemma-7b-it-Q4_K_M.gguf"]
    assert (full.size, full.sha256, full.quant) == (len(FULL), hashlib.sha256(FULL).hexdigest(), None)
    assert (q4.size, q4.sha256, q4.quant) == (len(Q4), hashlib.sha256(Q4).hexdigest(), "Q4_K_M")
    assert all(f.revision == details.revision and f.repo_id == REPO for f in details.files)
    assert details.summary.downloads == 9000 and details.summary.license == "gemma"
    assert details.gated is False and details.license_url == f"{repos.endpoint}/{REPO}"
    assert HubClient().file_url(q4) == f"{repos.endpoint}/{REPO}/resolve/{details.revision}/{q4.filename}"
    assert HubClient().repo(REPO, revision=details.revision).files == details.files


def test_resolve_url_serves_the_file_to_plain_hf_hub_download(repos, tmp_path):
    path = huggingface_hub.hf_hub_download(
        REPO, "codegemma-7b-it-Q4_K_M.gguf", endpoint=repos.endpoint, cache_dir=tmp_path / "cache", token=False
    )
    assert Path(path).read_bytes() == Q4


def test_gated_repo_metadata_is_public_and_says_gated(repos):
    details = HubClient().repo("google/codegemma-gated-GGUF")
    assert details.gated and details.summary.gated
    assert details.files[0].quant == "Q8_0"
    assert details.license_url == f"{repos.endpoint}/google/codegemma-gated-GGUF"


def test_unknown_repo_is_not_found(repos):
    with pytest.raises(HubError) as caught:
        HubClient().repo("nobody/nothing-GGUF")
    assert caught.value.kind == "not_found"
    assert "nobody/nothing-GGUF" in str(caught.value) and "\n" not in str(caught.value)


def test_offline_mode_fails_at_once_without_a_request(repos, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    client = HubClient()
    assert client.offline
    for call in (lambda: client.search("gemma"), lambda: client.repo(REPO)):
        with pytest.raises(HubError) as caught:
            call()
        assert caught.value.kind == "offline"
        assert str(caught.value) == "the Hugging Face Hub can't be reached (offline mode is on)"
    assert repos.requests == []


def test_unreachable_hub_is_offline_with_a_short_reason(monkeypatch):
    server = HubServer().start()
    endpoint = server.endpoint
    server.stop()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    client = HubClient(token="")
    for call in (lambda: client.search("gemma"), lambda: client.repo(REPO)):
        started = time.monotonic()
        with pytest.raises(HubError) as caught:
            call()
        assert time.monotonic() - started < 5  # no retry loop
        message = str(caught.value)
        assert caught.value.kind == "offline"
        assert message.startswith("the Hugging Face Hub can't be reached: ") and "\n" not in message


def test_token_is_saved_where_huggingface_hub_reads_it(hub, monkeypatch):
    assert load_token() is None and HubClient().token is None
    save_token("  hf_fimbleTEST123\n")
    path = Path(hf_constants.HF_TOKEN_PATH)
    assert path.read_text() == "hf_fimbleTEST123"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE((path.parent / "stored_tokens").stat().st_mode) == 0o600
    assert huggingface_hub.get_token() == "hf_fimbleTEST123" == load_token()
    assert huggingface_hub.utils.get_stored_tokens()["fimble"] == "hf_fimbleTEST123"
    assert HubClient().auth_headers() == {"Authorization": "Bearer hf_fimbleTEST123"}
    assert hub.requests == []  # saving validates nothing online

    monkeypatch.setenv("HF_TOKEN", "hf_fromEnvironment")
    assert load_token() == "hf_fromEnvironment"
    monkeypatch.delenv("HF_TOKEN")

    delete_token()
    assert load_token() is None and not path.exists()
    assert "fimble" not in huggingface_hub.utils.get_stored_tokens()
    for empty in ("", "   \n"):
        with pytest.raises(ValueError, match="empty"):
            save_token(empty)


def test_tokens_stored_by_hf_login_are_kept_and_fimble_token_can_be_switched_to(hub):
    from huggingface_hub._login import _set_active_token
    from huggingface_hub.utils._auth import _save_token

    _save_token("hf_otherTool", "work")  # what `hf auth login` leaves behind
    _set_active_token("work", add_to_git_credential=False)
    save_token("hf_fimbleTEST123")
    assert huggingface_hub.utils.get_stored_tokens() == {"work": "hf_otherTool", "fimble": "hf_fimbleTEST123"}
    assert load_token() == "hf_fimbleTEST123"

    huggingface_hub.auth_switch("work")  # `hf auth switch` reads what Fimble wrote
    assert load_token() == "hf_otherTool"
    delete_token()  # Fimble stops using any stored token, and keeps the others
    assert load_token() is None
    assert huggingface_hub.utils.get_stored_tokens() == {"work": "hf_otherTool"}
    assert hub.requests == []


def test_whoami_accepts_allowed_tokens_and_maps_refusals(hub):
    hub.allow_token("hf_good")
    assert HubClient(token="hf_good").whoami() == "fimble-tester"
    with pytest.raises(HubError) as caught:
        HubClient(token="hf_bad").whoami()
    assert caught.value.kind == "auth" and "\n" not in str(caught.value)


def test_the_hub_library_sends_no_telemetry():
    import huggingface_hub.constants as hf_constants

    import app  # noqa: F401 - sets the switch before huggingface_hub is imported

    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert hf_constants.HF_HUB_DISABLE_TELEMETRY is True
