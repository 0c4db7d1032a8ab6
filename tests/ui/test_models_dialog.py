"""The model manager window against a loopback Hub, a real library and real llama.cpp."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QDialog

from app.core.hub.client import HubClient
from app.core.models.library import Library
from app.core.models.load_params import GPU_LAYERS_ALL, LoadParams
from app.core.settings import Settings
from app.selftest.tiny_gguf import write_tiny_gguf
from app.services.model_jobs import ModelJobs
from app.ui.model_settings import ModelSettingsDialog
from app.ui.models_dialog import ModelsDialog


@pytest.fixture
def library(fimble_home):
    return Library.default()


@pytest.fixture
def dialog(qtbot, library, hub):
    jobs = ModelJobs(library.models_dir, HubClient)
    window = ModelsDialog(library, Settings(), jobs, HubClient)
    window.answers = []
    window.confirm = lambda title, text: window.answers.pop(0) if window.answers else True
    window.library_panel.confirm = window.confirm
    qtbot.addWidget(window)
    window.show()
    yield window
    jobs.shutdown()


def _rows(table):
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_library_lists_models_with_metadata_and_warns_before_a_bad_assignment(qtbot, library, hub, tiny_models):
    shutil.copy(tiny_models["codellama"], library.models_dir / "codellama-tiny.gguf")
    shutil.copy(tiny_models["generic"], library.models_dir / "generic-tiny.gguf")
    (library.models_dir / "half.gguf.part").write_bytes(b"GGUF")
    jobs = ModelJobs(library.models_dir, HubClient)
    window = ModelsDialog(library, Settings(), jobs, HubClient)
    qtbot.addWidget(window)
    panel = window.library_panel
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=10_000)
    rows = {r[0]: r for r in _rows(panel.table)}
    assert set(rows) == {"codellama-tiny", "generic-tiny"}
    assert rows["codellama-tiny"][1:4] == ["codellama", "completion", "F32"]
    assert rows["generic-tiny"][2] == "chat"
    assert "Suggested" in panel.suggestion.text() and "completion: codellama-tiny" in panel.suggestion.text()
    # The generic model has no FIM tokens: assigning it to completion asks first.
    questions = []
    panel.confirm = lambda title, text: questions.append(text) or False
    assigned = []
    panel.assign_requested.connect(lambda role, path: assigned.append((role, path)))
    assert panel.select_path(str(library.models_dir / "generic-tiny.gguf"))
    assert "fill-in-the-middle" in panel.details.text()
    panel.completion_button.click()
    assert assigned == [] and "fill-in-the-middle" in questions[0]
    panel.chat_button.click()
    assert assigned == [("chat", str(library.models_dir / "generic-tiny.gguf"))]
    jobs.shutdown()


def test_search_list_files_download_and_quantize_then_offer_to_delete_the_source(
    qtbot, dialog, hub, full_precision_model, library
):
    hub.add_repo(
        "google/codegemma-tiny-GGUF",
        {"codegemma-tiny.gguf": full_precision_model},
        downloads=4321,
        likes=21,
        license="gemma",
    )
    panel = dialog.hub_panel
    panel.query.setText("codegemma")
    panel.search()
    qtbot.waitUntil(lambda: panel.repos.rowCount() == 1, timeout=10_000)
    assert _rows(panel.repos)[0] == ["google/codegemma-tiny-GGUF", "4,321", "21", "2024-04-09", "gemma"]
    panel.repos.selectRow(0)
    qtbot.waitUntil(lambda: panel.files.rowCount() == 1, timeout=10_000)
    assert _rows(panel.files)[0][:2] == ["codegemma-tiny.gguf", "full precision"]
    panel.quant.setCurrentText("Q4_K_M")
    assert panel.download_button.isEnabled() and panel.download_button.text() == "Download and Quantize"
    dialog.answers = [True]  # yes, delete the full-precision source afterwards
    finished = []
    dialog.jobs.finished.connect(finished.append)
    panel.download_button.click()
    assert dialog.tabs.currentWidget() is dialog.jobs_panel
    qtbot.waitUntil(lambda: bool(finished), timeout=30_000)
    assert finished[0].state == "done", finished[0].error
    row = next(iter(dialog.jobs_panel.rows.values()))[1]
    assert row.text.text().startswith("done:") and row.bar.value() == 1000
    qtbot.waitUntil(lambda: dialog.library_panel.table.rowCount() == 1, timeout=10_000)
    names = [r[0] for r in _rows(dialog.library_panel.table)]
    assert names == ["codegemma-tiny-Q4_K_M"]
    folder = library.models_dir / "google__codegemma-tiny-GGUF"
    assert sorted(p.name for p in folder.iterdir()) == ["codegemma-tiny-Q4_K_M.gguf"]


def test_a_gated_repository_says_so_with_its_license_page_before_downloading(qtbot, dialog, hub, tiny_models):
    hub.add_repo("google/codegemma-gated-GGUF", {"g-Q8_0.gguf": tiny_models["codegemma"]}, gated=True)
    panel = dialog.hub_panel
    panel._fill_repos(["google/codegemma-gated-GGUF"])
    panel.repos.selectRow(0)
    qtbot.waitUntil(lambda: panel.files.rowCount() == 1, timeout=10_000)
    assert "gated" in panel.gated.text()
    assert f"{hub.endpoint}/google/codegemma-gated-GGUF" in panel.gated.text()
    panel.files.selectRow(0)
    dialog.answers = [False]  # no token stored: do not queue it
    panel.download_button.click()
    assert dialog.jobs.jobs() == []


def test_offline_mode_shows_a_banner_and_keeps_the_library(qtbot, library, monkeypatch, tiny_models):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copy(tiny_models["codegemma"], library.models_dir / "cg.gguf")
    jobs = ModelJobs(library.models_dir, HubClient)
    window = ModelsDialog(library, Settings(), jobs, HubClient)
    qtbot.addWidget(window)
    window.show()
    assert window.banner.isVisible() and "can't be reached" in window.banner.text()
    qtbot.waitUntil(lambda: window.library_panel.table.rowCount() == 1, timeout=10_000)
    window.hub_panel.query.setText("codegemma")
    window.hub_panel.search()
    qtbot.waitUntil(lambda: "can't be reached" in window.status.text(), timeout=20_000)
    jobs.shutdown()


def test_not_enough_disk_is_refused_before_the_download(qtbot, dialog, hub, monkeypatch, tiny_models):
    import app.ui.models_dialog as models_dialog

    hub.add_repo("someone/big-GGUF", {"big-Q8_0.gguf": tiny_models["codegemma"]})
    monkeypatch.setattr(models_dialog, "disk_free", lambda path: 1000)
    panel = dialog.hub_panel
    panel._fill_repos(["someone/big-GGUF"])
    panel.repos.selectRow(0)
    qtbot.waitUntil(lambda: panel.files.rowCount() == 1, timeout=10_000)
    panel.files.selectRow(0)
    panel.download_button.click()
    assert "Not enough disk space" in dialog.status.text()
    assert dialog.jobs.jobs() == []


def test_runtime_settings_form_round_trips_every_setting(qtbot, tmp_path):
    params = LoadParams(
        n_ctx=8192,
        n_gpu_layers=12,
        n_threads=6,
        n_batch=256,
        rope_freq_base=10000.0,
        rope_freq_scale=0.5,
        offload_kqv=False,
        use_mlock=True,
        use_mmap=False,
        seed=42,
        flash_attn=True,
        type_k="q8_0",
        type_v="q4_0",
    )
    form = ModelSettingsDialog("m.gguf", params, n_layers=28)
    qtbot.addWidget(form)
    assert form.params() == params
    form.gpu_mode.setCurrentIndex(1)
    assert form.params().n_gpu_layers == GPU_LAYERS_ALL and not form.gpu_layers.isEnabled()


def test_main_window_opens_the_manager_and_applies_model_settings(qtbot, tiny_models, hub):
    from app.ui.main_window import MainWindow

    path = str(tiny_models["codellama"])
    window = MainWindow(Settings(chat_model=str(tiny_models["generic"]), completion_model=path))
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.chat_engine.worker.loaded, window.completion_engine.worker.loaded], timeout=30_000):
        window.show()
    window.open_models()
    assert isinstance(window.models_dialog, QDialog) and window.models_dialog.isVisible()
    with qtbot.waitSignal(window.completion_engine.worker.loaded, timeout=30_000) as loaded:
        window.set_model_params(path, LoadParams(n_ctx=512))
    assert loaded.args[0].n_ctx == 512
    window.close()


def test_a_model_in_a_subfolder_with_the_same_name_is_still_listed(qtbot, library, tmp_path):
    write_tiny_gguf(library.models_dir / "a" / "m.gguf", "codegemma")
    write_tiny_gguf(library.models_dir / "b" / "m.gguf", "codellama")
    assert len(library.models()) == 2


def test_quantize_from_the_library_makes_a_new_model_and_offers_to_delete_the_source(
    qtbot, dialog, library, full_precision_model
):
    source = library.models_dir / "codegemma-tiny-f16.gguf"
    shutil.copy(full_precision_model, source)
    panel = dialog.library_panel
    panel.refresh()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=10_000)
    assert panel.select_path(str(source))
    panel.choose_type = lambda types: "Q8_0"
    dialog.answers = [False]  # keep the full-precision source
    finished = []
    dialog.jobs.finished.connect(finished.append)
    panel.quantize_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=30_000)
    assert finished[0].state == "done", finished[0].error
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=10_000)
    rows = {r[0]: r for r in _rows(panel.table)}
    assert rows["codegemma-tiny-Q8_0"][3] == "Q8_0" and rows["codegemma-tiny-f16"][3] == "F16"
    assert source.exists()
    # A quantized model asks before being quantized again.
    assert panel.select_path(str(library.models_dir / "codegemma-tiny-Q8_0.gguf"))
    questions = []
    panel.confirm = lambda title, text: questions.append(text) or False
    panel.quantize_button.click()
    assert "already quantized (Q8_0)" in questions[0]
