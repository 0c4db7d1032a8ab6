"""``bench chat``: streaming through host, worker, service and view vs raw llama-cpp-python.

Fimble's side streams a chat answer from the starter model through the whole
path into the real chat pane; throughput is counted where the user sees it,
from the first to the last piece arriving on the GUI thread. The raw side
runs the same prompt tokens through a llama-cpp-python loop with the same
settings and length. Rounds alternate. During Fimble's streaming a 5 ms timer
on the GUI thread records how late each tick fires: the main thread's stalls.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import raw_decode_rate, wait_until

PROMPT = "Write a Python function that parses a CSV file and returns a list of dictionaries."
TICK_MS = 5


class _Stalls:
    """A GUI-thread timer that records how late each tick fires."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.late_ms: list[float] = []
        self._last = None
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late_ms.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now


def run(quick: bool) -> dict:
    """Measure both sides; return throughput, ratio and GUI stalls."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import llama_cpp
    from PySide6.QtWidgets import QApplication

    from app.core.chat.store import ChatStore
    from app.core.generation.contracts import ChatMessage, ChatRequest
    from app.core.models.load_params import LoadParams
    from app.core.models.starter import starter_model_path
    from app.engine.host_client import HostEngine
    from app.services.chat_service import ChatService
    from app.services.engine_worker import EngineController
    from app.ui.chat_pane import ChatPane

    rounds, n_tokens = (2, 64) if quick else (4, 256)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = str(starter_model_path(folder))
        store = ChatStore(folder / "chats.sqlite3")
        controller = EngineController("bench", lambda role: HostEngine(role, str(folder / "engine.log")))
        service = ChatService(controller, store)
        pane = ChatPane(service)
        pane.resize(700, 800)
        pane.show()
        loaded = []
        controller.worker.loaded.connect(loaded.append)
        controller.load(model, LoadParams(n_ctx=2048))
        wait_until(app, lambda: loaded, 120)
        sampling = {
            "max_tokens": n_tokens,
            "temperature": 0.0,
            "ignore_eos": True,
            "repeat_penalty": 1.0,
            "top_k": 40,
            "top_p": 0.95,
            "min_p": 0.05,
        }
        _fresh_conversation(service, sampling)
        request = ChatRequest((ChatMessage("user", PROMPT),), service.sampling())
        prompt = controller.worker.engine.build_prompt(request)[0]
        raw = llama_cpp.Llama(model_path=model, n_ctx=2048, n_gpu_layers=-1, verbose=False)
        stalls = _Stalls()
        fimble_tps, raw_tps = [], []
        try:
            for _ in range(rounds):
                _fresh_conversation(service, sampling)  # the same prompt as the raw side
                fimble_tps.append(_fimble_round(app, service, stalls, n_tokens))
                raw_tps.append(raw_decode_rate(raw, prompt, n_tokens))
        finally:
            raw.close()
            service.shutdown()
            controller.shutdown(3000)
            store.close()
            pane.close()
    fimble, baseline = statistics.median(fimble_tps), statistics.median(raw_tps)
    late = sorted(stalls.late_ms) or [0.0]
    return {
        "throughput_ratio": round(fimble / baseline, 3),
        "fimble_tokens_per_s": round(fimble, 2),
        "raw_tokens_per_s": round(baseline, 2),
        "p99_stall_ms": round(late[min(len(late) - 1, int(0.99 * len(late)))], 2),
        "max_stall_ms": round(late[-1], 2),
        "tokens_per_round": n_tokens,
        "rounds": rounds,
        "ticks": len(stalls.late_ms),
    }


def _fresh_conversation(service, sampling: dict) -> None:
    conversation = service.new_conversation()
    service.store.set_sampling(conversation.id, sampling)
    service.store.set_system_prompt(conversation.id, "")


def _fimble_round(app, service, stalls: _Stalls, n_tokens: int) -> float:
    arrivals: list[float] = []
    done: list[object] = []

    def on_piece(_job, _text):
        arrivals.append(time.perf_counter())

    service.answer_piece.connect(on_piece)
    service.answer_finished.connect(lambda _job, stats: done.append(stats))
    service.answer_failed.connect(lambda _job, message: done.append(RuntimeError(message)))
    stalls.start()
    service.send(PROMPT)
    wait_until(app, lambda: done, 300)
    stalls.stop()
    service.answer_piece.disconnect(on_piece)
    if isinstance(done[0], Exception):
        raise done[0]
    stats = done[0]
    if stats.generated_tokens != n_tokens:
        raise RuntimeError(f"generated {stats.generated_tokens} of {n_tokens} tokens")
    # Tokens as the user sees them: from the first to the last piece shown.
    return (stats.generated_tokens - 1) / (arrivals[-1] - arrivals[0])
