"""The curated catalog of CodeGemma and Code Llama models."""

from __future__ import annotations

import re

import pytest

from app.core.generation.families import FAMILIES
from app.core.models.catalog import CATALOG, entry_for_repo, find_entry

REQUIRED = {
    # (family, params, version, instruct): roles
    ("codegemma", "2B", "1.0", False): ("completion",),
    ("codegemma", "2B", "1.1", False): ("completion",),
    ("codegemma", "7B", "1.0", False): ("completion",),
    ("codegemma", "7B", "1.0", True): ("chat",),
    ("codegemma", "7B", "1.1", True): ("chat",),
    ("codellama", "7B", "1.0", False): ("completion",),
    ("codellama", "13B", "1.0", False): ("completion",),
    ("codellama", "7B", "1.0", True): ("chat", "completion"),
}


def _instruct(entry) -> bool:
    return entry.key.endswith(("-it", "-instruct"))


def test_every_required_model_is_there_with_its_roles():
    found = {(e.family, e.params, e.version, _instruct(e)): e for e in CATALOG}
    for key, roles in REQUIRED.items():
        assert key in found, key
        assert set(found[key].roles) == set(roles), key
    assert len(CATALOG) == len(REQUIRED)


def test_there_is_no_codegemma_7b_base_1_1_and_the_entry_says_so():
    assert not [
        e for e in CATALOG if e.family == "codegemma" and e.params == "7B" and not _instruct(e) and e.version == "1.1"
    ]
    assert "no 1.1" in find_entry("codegemma-7b").note


def test_every_entry_has_a_source_and_sane_fields():
    keys = [e.key for e in CATALOG]
    assert len(set(keys)) == len(keys)
    repo = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    for entry in CATALOG:
        assert entry.family in FAMILIES
        assert entry.repos and all(repo.match(r) for r in entry.repos)
        assert entry.repos[0] == (entry.official_repo or entry.community_repos[0])
        assert set(entry.roles) <= {"chat", "completion"} and entry.roles
        assert entry.title and entry.note and entry.license


def test_official_codegemma_repos_are_gated_and_community_ones_are_not():
    for entry in CATALOG:
        if entry.family == "codegemma":
            assert entry.official_repo.startswith("google/") and entry.gated and entry.license == "gemma"
            assert entry.is_gated(entry.official_repo)
            assert entry.community_repos and not any(entry.is_gated(r) for r in entry.community_repos)
        else:
            assert entry.official_repo is None and not entry.gated and entry.license == "llama2"
            assert all(r.startswith("TheBloke/") for r in entry.community_repos)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("codegemma-1.1-2b", "codegemma-1.1-2b"),
        ("CodeGemma-7B-it", "codegemma-7b-it"),
        ("google/codegemma-1.1-7b-it-GGUF", "codegemma-1.1-7b-it"),
        ("google/CODEGEMMA-2b-gguf", "codegemma-2b"),
        ("TheBloke/CodeLlama-7B-Instruct-GGUF", "codellama-7b-instruct"),
        ("bartowski/codegemma-7b-GGUF", "codegemma-7b"),
    ],
)
def test_find_entry_by_key_or_repo(query, key):
    assert find_entry(query).key == key


def test_unknown_keys_and_repos_find_nothing():
    assert find_entry("codegemma-1.1-7b") is None
    assert find_entry("someone/else-GGUF") is None
    assert entry_for_repo("codegemma-2b") is None
    assert entry_for_repo("TheBloke/CodeLlama-13B-GGUF").key == "codellama-13b"
