"""Settings: per-model runtime settings override the role's defaults, and survive a restart."""

from app.core.models.load_params import GPU_LAYERS_AUTO, LoadParams
from app.core.settings import Settings, load_settings, save_settings


def test_model_settings_override_the_role_defaults_and_round_trip(tmp_path):
    settings = Settings(chat_model="/models/a.gguf", chat_params={"n_ctx": 2048, "n_batch": 256})
    assert settings.load_params("chat") == LoadParams(n_ctx=2048, n_batch=256)
    settings.set_model_params("/models/a.gguf", LoadParams(n_ctx=8192, n_gpu_layers=12, flash_attn=True))
    params = settings.load_params("chat")
    assert (params.n_ctx, params.n_gpu_layers, params.flash_attn) == (8192, 12, True)
    # Another model in the same role keeps the role's defaults.
    settings.chat_model = "/models/b.gguf"
    assert settings.load_params("chat").n_ctx == 2048
    save_settings(tmp_path, settings)
    again = load_settings(tmp_path)
    assert again.params_for_model("/models/a.gguf").n_gpu_layers == 12
    assert again.params_for_model("/models/unknown.gguf").n_gpu_layers == GPU_LAYERS_AUTO
