"""The welcome card: offers that follow the machine, one-click pulls from a loopback Hub, dismiss and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.hub.client import HubClient
from app.core.machine import human_bytes
from app.core.models.roles import ModelRole
from app.core.paths import app_dirs
from app.core.settings import Settings, load_settings
from app.services.model_jobs import ModelJobs
from app.ui.welcome_card import MachineFigures, WelcomeCard
from app.ui.window_settings import WindowSettings

GB = 1_000_000_000
CHAT_REPO = "bartowski/codegemma-1.1-7b-it-GGUF"
COMPLETION_REPO = "bartowski/codegemma-2b-GGUF"


class _Assigned:
    """Records assignments the card asks for (called on the GUI thread)."""

    def __init__(self) -> None:
        self.calls: list[tuple[ModelRole, str]] = []

    def __call__(self, role: ModelRole, path: str) -> None:
        self.calls.append((role, path))


def _no_jobs() -> ModelJobs:
    raise AssertionError("this test queues no pull")


def _card(qtbot, settings: Settings | None = None, *, machine=None, jobs=_no_jobs, assign=None) -> WelcomeCard:
    prefs = WindowSettings(settings or Settings(), lambda text: None)
    card = WelcomeCard(prefs, jobs, assign or _Assigned(), machine=machine, starter_installed=True)
    qtbot.addWidget(card)
    card.refresh()
    return card


def _offer(card: WelcomeCard, role: ModelRole) -> str:
    return card.rows[role].title.text()


def test_the_offers_follow_the_given_ram_and_vram(qtbot):
    roomy = _card(qtbot, machine=MachineFigures(32 * GB))
    assert _offer(roomy, ModelRole.CHAT) == "Chat: CodeGemma 1.1 7B-it Q4_K_M (5.3 GB) · fits in RAM"
    assert _offer(roomy, ModelRole.COMPLETION) == "Completion: CodeGemma 2B Q4_K_M (1.6 GB) · fits in RAM"
    assert "few words a second" in roomy.rows[ModelRole.CHAT].note.text()
    gpu = _card(qtbot, machine=MachineFigures(16 * GB, 24 * GB))
    assert _offer(gpu, ModelRole.CHAT).endswith("· fits in VRAM")
    assert "GPU" in gpu.rows[ModelRole.CHAT].note.text()
    small = _card(qtbot, machine=MachineFigures(8 * GB))
    assert "Q4_K_M" not in _offer(small, ModelRole.CHAT) and _offer(small, ModelRole.CHAT).endswith("fits in RAM")
    assert "less accurate than Q4_K_M" in small.rows[ModelRole.CHAT].note.text()
    tiny = _card(qtbot, machine=MachineFigures(3 * GB))
    assert (
        "does not fit" in _offer(tiny, ModelRole.CHAT) and "keep the starter" in tiny.rows[ModelRole.CHAT].note.text()
    )


def test_the_card_says_what_fimble_is_and_what_to_do_when_gated_or_offline(qtbot):
    card = _card(qtbot, machine=MachineFigures(32 * GB))
    assert not card.isHidden()
    assert "offline" in card.intro.text() and "fill-in-the-middle" in card.intro.text()
    assert "starter" in card.lead.text() and "base model" in card.lead.text()
    help_text = card.help.text()
    assert "accept the Gemma license" in help_text and "Hugging Face token" in help_text
    assert "Import…" in help_text and "File → Load Chat Model…" in help_text


def test_a_role_with_a_model_gets_no_offer_and_both_hide_the_card(qtbot, tiny_models):
    one = _card(qtbot, Settings(completion_model=str(tiny_models["codellama"])), machine=MachineFigures(32 * GB))
    assert not one.isHidden()
    assert not one.rows[ModelRole.CHAT].isHidden() and one.rows[ModelRole.COMPLETION].isHidden()
    both = Settings(chat_model=str(tiny_models["generic"]), completion_model=str(tiny_models["codellama"]))
    assert _card(qtbot, both, machine=MachineFigures(32 * GB)).isHidden()


def test_one_click_pulls_with_progress_pause_and_cancel_then_assigns(qtbot, hub, tiny_models):
    hub.add_repo(COMPLETION_REPO, {"codegemma-2b-Q4_K_M.gguf": tiny_models["codegemma"]})
    jobs = ModelJobs(app_dirs().ensure().models, HubClient)
    assigned = _Assigned()
    card = _card(qtbot, machine=MachineFigures(32 * GB), jobs=lambda: jobs, assign=assigned)
    row = card.rows[ModelRole.COMPLETION]
    size = Path(tiny_models["codegemma"]).stat().st_size
    try:
        hub.throttle(size / 6)  # about six seconds for the file
        row.get_button.click()
        qtbot.waitUntil(
            lambda: 0 < row.bar.value() < 1000 and row.status.text().startswith("Downloading"), timeout=20_000
        )
        assert row.bar.isVisible() and row.pause_button.isVisible() and not row.get_button.isVisible()
        assert f"Q4_K_M ({human_bytes(size)})" in row.title.text()  # the Hub's size replaced the estimate
        row.pause_button.click()
        qtbot.waitUntil(lambda: row.pause_button.text() == "Resume", timeout=10_000)
        assert row.status.text().startswith("Paused at")
        row.pause_button.click()
        qtbot.waitUntil(
            lambda: row.pause_button.text() == "Pause" and "Downloading" in row.status.text(), timeout=10_000
        )
        row.cancel_button.click()
        qtbot.waitUntil(lambda: row.status.text().startswith("Cancelled"), timeout=10_000)
        assert row.job_id is None and row.get_button.isVisible() and not row.bar.isVisible()
        assert assigned.calls == []
        assert not list((app_dirs().models / "bartowski__codegemma-2b-GGUF").glob("*.gguf*"))
        hub.throttle(None)
        row.get_button.click()
        qtbot.waitUntil(lambda: bool(assigned.calls), timeout=30_000)
    finally:
        hub.throttle(None)
        jobs.shutdown()
    role, path = assigned.calls[0]
    assert role is ModelRole.COMPLETION and Path(path).name == "codegemma-2b-Q4_K_M.gguf"
    assert Path(path).read_bytes() == Path(tiny_models["codegemma"]).read_bytes()
    assert row.status.text().startswith("Done: completion now uses codegemma-2b-Q4_K_M.gguf")
    assert not row.get_button.isVisible() and not row.bar.isVisible()


def test_a_gated_source_without_a_token_says_where_to_accept_the_license(qtbot, hub, full_precision_model):
    # No community copy: the offer falls back to Google's gated repository (download and quantize).
    hub.add_repo("google/codegemma-2b-GGUF", {"codegemma-2b.gguf": full_precision_model}, gated=True)
    card = _card(qtbot, machine=MachineFigures(32 * GB))
    row = card.rows[ModelRole.COMPLETION]
    row.get_button.click()
    qtbot.waitUntil(lambda: "is gated" in row.status.text(), timeout=20_000)
    assert f"{hub.endpoint}/google/codegemma-2b-GGUF" in row.status.text()
    assert "Hugging Face Token" in row.status.text() and row.job_id is None


def test_offline_the_card_points_to_importing_a_gguf(qtbot, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    card = _card(qtbot, machine=MachineFigures(32 * GB))
    row = card.rows[ModelRole.CHAT]
    row.get_button.click()
    qtbot.waitUntil(lambda: "can't be reached" in row.status.text(), timeout=20_000)
    assert "Import" in row.status.text() and row.get_button.isEnabled()


@pytest.fixture
def starter_window(qtbot, tiny_models):
    """A window whose chat role uses the starter and whose completion role has a tiny model."""
    from app.ui.main_window import MainWindow

    win = MainWindow(Settings(completion_model=str(tiny_models["codellama"]), chat_params={"n_ctx": 1024}))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.completion_engine.worker.loaded, timeout=30_000):
        win.show()
    yield win
    win.close()


def test_in_the_window_a_pull_assigns_the_chat_role_and_the_card_goes(qtbot, hub, tiny_models, starter_window):
    win = starter_window
    card = win.welcome
    assert card.isVisible() and not card.rows[ModelRole.CHAT].isHidden()
    assert card.rows[ModelRole.COMPLETION].isHidden()
    # Whatever quantization this machine is offered, the loopback Hub has it.
    files = {f"codegemma-1.1-7b-it-{q}.gguf": tiny_models["codegemma"] for q in ("Q4_K_M", "Q3_K_M", "Q2_K")}
    hub.add_repo(CHAT_REPO, files)
    qtbot.waitUntil(lambda: card.rows[ModelRole.CHAT].setup is not None, timeout=20_000)
    with qtbot.waitSignal(
        win.chat_engine.worker.loaded, timeout=60_000, check_params_cb=lambda m: "codegemma-1.1-7b-it" in m.info.path
    ):
        card.rows[ModelRole.CHAT].get_button.click()
    assert "codegemma-1.1-7b-it" in (win.settings.chat_model or "")
    assert "codegemma-1.1-7b-it" in (load_settings(app_dirs().config).chat_model or "")
    assert card.isHidden()  # both roles have models now


def test_dismiss_is_remembered_and_help_welcome_brings_the_card_back(qtbot, starter_window):
    win = starter_window
    card = win.welcome
    assert card.isVisible()
    card.dismiss_button.click()
    assert card.isHidden() and load_settings(app_dirs().config).welcome_dismissed is True
    card.refresh()
    assert card.isHidden()  # stays dismissed while the starter is in use
    action = next(a for a in win.menuBar().actions() if a.text() == "&Help").menu().actions()
    next(a for a in action if a.text() == "&Welcome").trigger()
    assert card.isVisible() and load_settings(app_dirs().config).welcome_dismissed is False


def test_with_both_models_set_the_window_shows_no_card_until_asked(qtbot, window):
    assert window.welcome.isHidden()
    window.welcome.bring_back()
    assert window.welcome.isVisible() and window.welcome.all_set.isVisible()
