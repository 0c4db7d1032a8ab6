"""EngineWorker on its QThread, driving a real engine host."""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, Sampling
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.engine.client import EngineError
from app.services.engine_worker import EngineController, wait_for_lingering
from tests.support.gui_thread_waits import SignalLog

LONG = Sampling(max_tokens=100_000, temperature=0.8, ignore_eos=True)


@pytest.fixture
def controller(qtbot):
    ctl = EngineController("chat")
    yield ctl
    assert ctl.shutdown(10_000)


def _load(qtbot, ctl, path, n_ctx=1024):
    with qtbot.waitSignal(ctl.worker.loaded, timeout=20_000) as loaded:
        ctl.load(str(path), LoadParams(n_ctx=n_ctx))
    return loaded.args[0]


def test_streams_pieces_tagged_with_the_job_id(qtbot, controller, tiny_models):
    loaded = _load(qtbot, controller, tiny_models["generic"])
    assert isinstance(loaded, LoadedModel) and loaded.info.family == "generic" and loaded.n_ctx == 1024
    pieces = SignalLog(controller.worker.piece)
    with qtbot.waitSignal(controller.worker.finished, timeout=10_000) as done:
        job = controller.generate(ChatRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=12, ignore_eos=True)))
    finished_job, stats = done.args
    assert finished_job == job
    assert stats.generated_tokens == 12 and stats.finish_reason == "length"
    assert pieces.calls and {j for j, _ in pieces.calls} == {job}


def test_load_failure_is_a_plain_message(qtbot, controller, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all, but long enough to parse" * 4)
    with qtbot.waitSignal(controller.worker.load_failed, timeout=20_000) as failed:
        controller.load(str(bad), LoadParams())
    assert "not a GGUF file" in failed.args[0]


def test_host_killed_mid_answer_is_reported_restarted_and_reloaded(qtbot, controller, tiny_models):
    _load(qtbot, controller, tiny_models["generic"], n_ctx=4096)
    worker = controller.worker
    with qtbot.waitSignal(worker.piece, timeout=10_000):
        job = controller.generate(FimRequest("a", allow_prefix_only=True, sampling=LONG))
    old_pid = worker.engine.pid
    failures, crashes = SignalLog(worker.failed), SignalLog(worker.host_crashed)
    with qtbot.waitSignal(worker.host_restarted, timeout=30_000):
        os.kill(old_pid, signal.SIGKILL)
    assert len(failures.calls) == 1 and len(crashes.calls) == 1
    failed_job, kind, message = failures.calls[0]
    assert (failed_job, kind) == (job, "crashed") and "SIGKILL" in message
    assert worker.engine.pid != old_pid and worker.engine.is_alive()
    # The next request reloads the model first, then answers.
    with qtbot.waitSignals([worker.loaded, worker.finished], timeout=20_000, order="strict"):
        controller.generate(FimRequest("b", allow_prefix_only=True, sampling=Sampling(max_tokens=4, ignore_eos=True)))


def test_idle_host_death_is_noticed_by_the_watchdog(qtbot, controller, tiny_models):
    _load(qtbot, controller, tiny_models["generic"])
    with qtbot.waitSignal(controller.worker.host_crashed, timeout=10_000):
        os.kill(controller.worker.engine.pid, signal.SIGSEGV)


def test_cancel_from_the_gui_thread(qtbot, controller, tiny_models):
    _load(qtbot, controller, tiny_models["generic"], n_ctx=4096)
    with qtbot.waitSignal(controller.worker.piece, timeout=10_000):
        job = controller.generate(FimRequest("a", allow_prefix_only=True, sampling=LONG))
    with qtbot.waitSignal(controller.worker.finished, timeout=10_000) as done:
        controller.cancel(job)
    assert done.args[1].finish_reason == "cancelled"


def test_switching_models_keeps_the_old_one_serving_until_the_new_one_is_loaded(qtbot, controller, tiny_models):
    first = _load(qtbot, controller, tiny_models["generic"])
    worker = controller.worker
    old_pid = worker.engine.pid
    loads = SignalLog(worker.loaded)
    controller.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=1024))
    # While the second host loads, a request still goes to the first model.
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        controller.generate(FimRequest("a", allow_prefix_only=True, sampling=Sampling(max_tokens=3, ignore_eos=True)))
    qtbot.waitUntil(lambda: bool(loads.calls), timeout=20_000)
    assert first.info.family == "generic" and loads.calls[0][0].info.family == "codegemma"
    assert worker.engine.pid != old_pid
    qtbot.waitUntil(lambda: not _alive(old_pid), timeout=20_000)
    with qtbot.waitSignal(worker.finished, timeout=10_000) as done:
        controller.generate(FimRequest("b", "c", sampling=Sampling(max_tokens=2, ignore_eos=True)))
    assert done.args[1].generated_tokens == 2


def test_a_failed_switch_leaves_the_old_model_loaded(qtbot, controller, tiny_models, tmp_path):
    _load(qtbot, controller, tiny_models["generic"])
    worker = controller.worker
    pid = worker.engine.pid
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with qtbot.waitSignal(worker.load_failed, timeout=20_000) as failed:
        controller.load(str(bad), LoadParams())
    assert failed.args[0]
    assert worker.engine.pid == pid
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        controller.generate(FimRequest("a", allow_prefix_only=True, sampling=Sampling(max_tokens=2, ignore_eos=True)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers signal 0; reap it if it is our child
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_a_switch_can_be_cancelled_and_the_old_model_stays(qtbot, controller, tiny_models, starter_model):
    _load(qtbot, controller, tiny_models["generic"])
    worker = controller.worker
    pid = worker.engine.pid
    loads = SignalLog(worker.loaded)
    with qtbot.waitSignal(worker.load_started, timeout=20_000):
        controller.load(str(starter_model), LoadParams(n_ctx=1024))
    with qtbot.waitSignal(worker.load_failed, timeout=20_000) as failed:
        worker.cancel_load()
    assert "cancelled" in failed.args[0]
    qtbot.wait(300)
    assert loads.calls == [] and worker.engine.pid == pid
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        controller.generate(FimRequest("a", allow_prefix_only=True, sampling=Sampling(max_tokens=2, ignore_eos=True)))


class _SlowToStart:
    """An engine whose host takes seconds to start, as on a busy machine, then fails."""

    def __init__(self, _role: str) -> None:
        self.backend = BackendInfo()

    def start(self) -> BackendInfo:
        time.sleep(2.0)
        raise EngineError("load_failed", "the host did not start")

    def is_alive(self) -> bool:
        return False

    def request_close(self) -> None:
        pass

    def close(self, timeout: float = 1.0) -> None:
        pass

    def cancel(self, job_id=None) -> None:
        pass


def test_a_worker_thread_still_busy_at_shutdown_is_kept_until_it_ends(qtbot):
    ctl = EngineController("chat", engine_factory=_SlowToStart)
    failed = SignalLog(ctl.worker.load_failed)
    ctl.load("/nowhere/model.gguf", LoadParams())
    qtbot.wait(300)  # the worker thread is now inside start()
    assert not ctl.shutdown(50)  # still running: kept, not destroyed
    del ctl  # the window that owned it is gone; Qt would abort if the running thread were destroyed
    assert wait_for_lingering(20_000)
    assert failed.calls == []  # a closing worker reports nothing


def test_the_controller_lives_in_the_gui_thread_and_its_worker_in_worker_thread(qtbot, controller):
    from PySide6.QtCore import QCoreApplication

    assert controller.thread() == QCoreApplication.instance().thread()
    assert controller.worker.thread() == controller.worker_thread
    assert controller.worker_thread.objectName() == "fimble-chat-worker" and controller.worker_thread.isRunning()
