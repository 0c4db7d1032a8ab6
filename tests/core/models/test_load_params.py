"""Load settings validate their values and round-trip through dicts."""

import pytest

from app.core.models.load_params import LoadParams


def test_defaults_round_trip():
    params = LoadParams(n_ctx=2048, n_gpu_layers=10, flash_attn=True, type_k="q8_0")
    assert LoadParams.from_dict(params.to_dict()) == params
    assert LoadParams.from_dict({"n_ctx": 1024, "unknown": 1}).n_ctx == 1024


@pytest.mark.parametrize(
    "field, value", [("n_ctx", -1), ("n_gpu_layers", -3), ("n_batch", 0), ("n_threads", 0), ("type_k", "q3_x")]
)
def test_bad_values_are_refused(field, value):
    with pytest.raises(ValueError):
        LoadParams(**{field: value})


def test_every_setting_has_help():
    help_text = LoadParams.help()
    assert set(help_text) >= {
        "n_ctx",
        "n_gpu_layers",
        "n_threads",
        "n_batch",
        "rope_freq_base",
        "rope_freq_scale",
        "offload_kqv",
        "use_mlock",
        "use_mmap",
        "seed",
        "flash_attn",
        "type_k",
        "type_v",
    }
    assert all(text for text in help_text.values())
