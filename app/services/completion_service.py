"""CompletionService: debounce, latest request wins, cache, context, clean-up.

The editor hands over plain snapshots; answers come back as the
``suggestion`` signal, already post-processed, tagged with the job id.
When the cursor settles somewhere new, a prompt-only request warms the
engine's KV cache for the window there, so the first real request at that
place evaluates only what the user typed since.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core.fim.cache import CompletionCache
from app.core.fim.context import ChunkRing
from app.core.fim.post import wants_multiline
from app.core.fim.timing import adaptive_debounce_ms
from app.core.fim.warm_places import describe_budget
from app.core.fim.window_policy import WINDOW_STEP, SpeedEstimate, WindowPolicy, describe, remote_window
from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.loaded import LoadedModel
from app.services.completion_parts import (
    SETTLE_MS,
    CompletionTuning,
    EditorSnapshot,
    InFlight,
    blank,
    cut_short,
    probe_request,
)
from app.services.engine_worker import EngineController, next_job_id
from app.services.window_growth import WindowGrowth

# Takes the editor's snapshot when the wait ends; None when that editor is gone.
SnapshotTaker = Callable[[], EditorSnapshot | None]

__all__ = ["SETTLE_MS", "CompletionService", "CompletionTuning", "EditorSnapshot"]


class CompletionService(QObject):
    """Asks the completion engine for a middle and reports only the newest."""

    suggestion = Signal(int, str, object)  # job id, text, GenerationStats or None (cache hit)
    partial = Signal(int, str)  # job id, the suggestion so far, while it streams
    failed = Signal(str)
    warmed = Signal(int, object)  # job id, GenerationStats of a prompt-only request (done or cancelled)

    def __init__(self, engine: EngineController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.tuning = CompletionTuning()
        # Languages whose automatic suggestions the user turned off in the editor (this session only).
        self.disabled_languages: set[str] = set()
        self.cache = CompletionCache()
        self.ring = ChunkRing()
        self.model_id = ""
        self.prefix_only = False
        self.warm_places = ""  # the loaded model's warm-places memory, in words
        self.latencies_ms: deque[float] = deque(maxlen=20)
        self.speed = SpeedEstimate()
        self._cold_window = 0  # the settled cold window for the measured speed (0: not measured yet)
        # A window size the user fixed (the ``completion_window`` setting); None sizes it to the machine.
        self._pinned_window: int | None = None
        # A remote engine's window: fixed until the server reports its prompt speed, and never above
        # what fits its context (halved when the server says a prompt is too long).
        self._remote_window: int | None = None
        self._last_active = time.monotonic()
        self._current: InFlight | None = None
        self._queued: SnapshotTaker | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._fire)
        self._settled: SnapshotTaker | None = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.timeout.connect(self._fire_warm)
        self._warm_job: int | None = None  # the prompt-only request still wanted
        self._warm_jobs: set[int] = set()  # prompt-only requests whose end is not reported yet
        self._probe_job: int | None = None  # the speed measurement sent when a model loads
        self._after_probe: EditorSnapshot | None = None  # a warm-up waiting for the probe's figure
        # The place whose prompt the engine evaluated last (or is evaluating), and its job.
        self._sent: tuple[int, EditorSnapshot] | None = None
        engine.worker.piece.connect(self._on_piece)
        engine.worker.finished.connect(self._on_finished)
        engine.worker.failed.connect(self._on_failed)
        engine.worker.loaded.connect(self._on_loaded)
        self.growth = WindowGrowth(self)

    # ---- requests ---------------------------------------------------------------

    def auto_enabled(self, language: str) -> bool:
        """Whether suggestions come by themselves for ``language``."""
        return language not in self.disabled_languages

    def set_auto_enabled(self, language: str, enabled: bool) -> None:
        """Turn automatic suggestions on or off for one language."""
        if enabled:
            self.disabled_languages.discard(language)
        else:
            self.disabled_languages.add(language)

    def schedule(self, language: str, take_snapshot: SnapshotTaker) -> None:
        """Ask for a completion after the adaptive debounce (typing).

        The snapshot is taken only when the debounce fires, so a burst of
        keystrokes copies the document once, not once per key.
        """
        self.dismiss()  # also stops a settle wait: typing is no settled cursor
        self._note_activity()
        if not self.auto_enabled(language):
            return
        self._queued = take_snapshot
        self._debounce.start(self.debounce_ms())

    def debounce_ms(self) -> int:
        """The current debounce, from recent latencies."""
        return adaptive_debounce_ms(list(self.latencies_ms))

    def request(self, snapshot: EditorSnapshot) -> int:
        """Ask now (Ctrl+Space); a cache hit answers at once. Returns the job id.

        A prompt-only request still running is cancelled: the batches it
        finished stay in the KV cache and this request reuses them.
        """
        self._debounce.stop()
        self._queued = None
        self._stop_settle()
        self._cancel_warm()
        self._cancel_probe()
        self._cancel_current()
        self._note_activity()
        multiline = wants_multiline(snapshot.prefix, snapshot.suffix)
        started = time.perf_counter()
        if self.tuning.use_cache:
            cached = self.cache.lookup(self.model_id, snapshot.prefix, snapshot.suffix)
            if cached:
                job = next_job_id()
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self.suggestion.emit(job, cached, None)
                return job
        job = self.engine.generate(self._fim_request(snapshot, multiline, self.growth.window_for(snapshot)))
        self._current = InFlight(job, snapshot, started, multiline)
        self._sent = (job, snapshot)
        return job

    def after_accept(self, language: str, snapshot: EditorSnapshot) -> int | None:
        """A whole suggestion was accepted: ask for the next one now, without the debounce.

        Its prompt extends the one just evaluated by the accepted text, so
        little is evaluated. None when suggestions are off for ``language``.
        """
        return self.request(snapshot) if self.auto_enabled(language) else None

    # ---- warming the KV cache ------------------------------------------------------

    @property
    def current_job(self) -> int | None:
        """The real request whose answer is still wanted, if any."""
        return self._current.job if self._current is not None else None

    @property
    def warm_job(self) -> int | None:
        """The prompt-only request still running, if any."""
        return self._warm_job

    def settle(self, language: str, take_snapshot: SnapshotTaker) -> None:
        """The cursor moved without an edit: warm its window once it rests ``SETTLE_MS``.

        Each call restarts the wait; typing (``schedule``) and real requests
        stop it. The snapshot is taken when the wait ends.
        """
        if not self.auto_enabled(language):
            self._stop_settle()
            return
        self._settled = take_snapshot
        self._settle.start(SETTLE_MS)

    def warm(self, snapshot: EditorSnapshot) -> int | None:
        """Evaluate the prompt for ``snapshot`` into the KV cache, generating nothing.

        Returns the job id, or None when the engine's last prompt was for this
        very place (or the KV cache is not reused, so warming cannot help). A
        real request still running elsewhere is cancelled: the cursor has left
        its place (latest wins). Nothing is ever shown for it. While the speed
        probe of a new model runs, the warm-up waits for it (and None is
        returned): its window needs the probe's figure.
        """
        if not self.tuning.reuse_kv or (self._sent is not None and self._sent[1] == snapshot):
            return None
        if blank(snapshot.prefix) and blank(snapshot.suffix):
            return None  # an empty buffer: nothing worth evaluating
        self._cancel_current()
        self._cancel_warm()
        if self._probe_job is not None:
            self._after_probe = snapshot
            return None
        window = self.growth.window_for(snapshot)
        job = self.engine.generate(replace(self._fim_request(snapshot, False, window), prompt_only=True))
        self._warm_job = job
        self._warm_jobs.add(job)
        self._sent = (job, snapshot)
        return job

    @Slot()
    def _fire_warm(self) -> None:
        take, self._settled = self._settled, None
        if take is None or self._debounce.isActive():
            return  # typing: a real request is on its way
        snapshot = take()
        if snapshot is not None:  # None: the editor it came from is gone
            self.warm(snapshot)

    def _stop_settle(self) -> None:
        self._settle.stop()
        self._settled = None

    def _cancel_warm(self) -> None:
        if self._warm_job is not None:
            self.engine.cancel(self._warm_job)
        self._warm_job = None

    # ---- the window ----------------------------------------------------------------

    def window_policy(self) -> WindowPolicy:
        """The window rules for the current tuning (its full budget and proportion)."""
        s = self.tuning
        full = s.prefix_tokens + s.suffix_tokens
        return WindowPolicy(
            target_s=s.window_target_s,
            floor_tokens=min(64, full),
            full_tokens=full,
            suffix_share=s.suffix_tokens / full,
            grow_after_s=s.window_grow_after_s,
            grow_every_s=s.window_grow_every_s,
        )

    def idle_s(self) -> float:
        """Seconds since the user last typed or asked for a completion."""
        return time.monotonic() - self._last_active

    def _note_activity(self) -> None:
        self._last_active = time.monotonic()
        self.growth.user_active()

    def busy(self) -> bool:
        """Whether a request runs or waits for its debounce."""
        return self._current is not None or self._debounce.isActive()

    @property
    def pinned_window(self) -> int | None:
        """The window the user pinned, else a remote engine's fixed window, else None (sized to the machine)."""
        if self._pinned_window is not None or self._cold_window:  # measured: sized like this machine
            return self._pinned_window
        return self._remote_window

    @pinned_window.setter
    def pinned_window(self, tokens: int | None) -> None:
        self._pinned_window = tokens

    def window_tokens(self, idle_s: float = 0.0) -> int:
        """The window (prefix plus suffix tokens) a request would use after ``idle_s`` without typing."""
        s = self.tuning
        if not s.adaptive_window and self.pinned_window is None:
            return s.prefix_tokens + s.suffix_tokens
        cold = self._cold_window or None  # settled at each speed measurement
        window = self.window_policy().window(
            self.speed.tokens_per_s, idle_s=idle_s, pinned=self.pinned_window, cold=cold
        )
        return min(window, self._remote_window) if self._remote_window and self._pinned_window is None else window

    def window_budgets(self, window: int) -> tuple[int, int]:
        """Prefix and suffix token budgets for a window."""
        s = self.tuning
        if not s.adaptive_window and self.pinned_window is None:
            return s.prefix_tokens, s.suffix_tokens
        if self.prefix_only:  # a model without FIM tokens sees no suffix: the window is all prefix
            return min(window, s.prefix_tokens), 0
        return self.window_policy().split(window)

    def window_text(self) -> str:
        """One line on the window now and the measured speed, for tooltips."""
        window = max(self.window_tokens(), self.growth.warm_tokens if self.growth.enabled() else 0)
        text = describe(window, self.speed.tokens_per_s, self.pinned_window is not None)
        return f"{text} · {self.warm_places}" if self.warm_places else text

    def _fim_request(self, snapshot: EditorSnapshot, multiline: bool, window: int | None = None) -> FimRequest:
        """The engine request for ``snapshot``, its prefix and suffix cut to ``window`` tokens (default: cold)."""
        s = self.tuning
        prefix_tokens, suffix_tokens = self.window_budgets(self.window_tokens() if window is None else window)
        sampling = Sampling(
            max_tokens=s.max_tokens_block if multiline else s.max_tokens_line,
            temperature=0.0,
            time_limit_s=s.time_limit_s,
            reuse_kv=s.reuse_kv,
        )
        return FimRequest(
            prefix=snapshot.prefix,
            suffix=snapshot.suffix,
            path=snapshot.path,
            chunks=self.ring.chunks(exclude_path=snapshot.path),
            sampling=sampling,
            allow_prefix_only=self.prefix_only,
            order=s.order,
            prefix_tokens=prefix_tokens,
            suffix_tokens=suffix_tokens,
            wide_prefix_tokens=self._wide_prefix_tokens(),
            single_line=not multiline,
        )

    def _wide_prefix_tokens(self) -> int:
        """The prefix budget of a prompt anchored where a cached one starts (0: windows are not adaptive)."""
        if not self.tuning.adaptive_window or self.pinned_window is not None:
            return 0
        return self.window_budgets(self.window_policy().full_tokens)[0]

    def dismiss(self) -> None:
        """Forget the current and any scheduled request; their answers are dropped.

        A warm-up still waiting for the cursor to settle is dropped too; one
        already running goes on (its evaluated tokens are useful to what follows).
        """
        self._debounce.stop()
        self._queued = None
        self._stop_settle()
        self._cancel_current()
        self.growth.stop()

    def _cancel_current(self) -> None:
        if self._current is not None:
            self.engine.cancel(self._current.job)
        self._current = None

    def _in_flight(self, job_id: int) -> InFlight | None:
        """The current request if ``job_id`` is it; None for stale answers."""
        current = self._current
        return current if current is not None and current.job == job_id else None

    @Slot()
    def _fire(self) -> None:
        snapshot = self._queued() if self._queued is not None else None
        if snapshot is not None:  # None: the editor it came from is gone
            self.request(snapshot)

    # ---- context ---------------------------------------------------------------

    def note_file(self, path: str, text: str) -> None:
        """Offer another file (an open tab, an imported module) as context."""
        if path and text.strip():
            self.ring.add(path, text)

    # ---- answers ---------------------------------------------------------------

    @Slot(object)
    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.model_id = loaded.info.path
        self.prefix_only = not loaded.info.can_complete
        self.cache.clear()
        self._sent = None  # a new model starts with an empty KV cache
        self.speed.reset()  # another model, another speed
        self._cold_window = 0
        self.warm_places = describe_budget(loaded.warm_places_bytes, loaded.kv_bytes_per_token)
        self._probe_job, self._after_probe = None, None
        remote = loaded.info.architecture == "remote"
        self._remote_window = remote_window(loaded.n_ctx) if remote else None
        if self.tuning.adaptive_window and self._pinned_window is None and not loaded.vocab_only:
            self._probe_job = self.engine.generate(probe_request(self.tuning))

    def _cancel_probe(self) -> None:
        if self._probe_job is not None:
            self.engine.cancel(self._probe_job)
            self._probe_job = None
        self._after_probe = None

    def _end_probe(self) -> None:
        """The probe is over: send the warm-up that waited for it."""
        self._probe_job = None
        waiting, self._after_probe = self._after_probe, None
        if waiting is not None:
            self.warm(waiting)

    @Slot(int, str)
    def _on_piece(self, job_id: int, text: str) -> None:
        current = self._in_flight(job_id)
        if current is None:
            return
        current.parts.append(text)
        shown = current.text()
        if shown and shown != current.shown:
            current.shown = shown
            self.partial.emit(job_id, shown)

    def observe_speed(self, stats: GenerationStats) -> None:
        """Fold a finished evaluation's prompt speed into the estimate (any job of this engine)."""
        if stats.finish_reason == "cancelled":
            return
        if self.speed.observe(stats.evaluated_tokens - stats.reused_tokens, stats.prompt_eval_ms):
            self._cold_window = self.window_policy().settle(self._cold_window, self.speed.tokens_per_s)

    @Slot(int, object)
    def _on_finished(self, job_id: int, stats: GenerationStats) -> None:
        self.observe_speed(stats)
        if job_id == self._probe_job:
            self._end_probe()
            return
        if self._sent is not None and self._sent[0] == job_id and cut_short(stats):
            self._sent = None  # its place is not fully evaluated: warming it again is worth it
        if job_id in self._warm_jobs:
            self._warm_jobs.discard(job_id)
            if self._warm_job == job_id:
                self._warm_job = None
            self.warmed.emit(job_id, stats)
            return
        current = self._in_flight(job_id)
        if current is None:
            return  # stale: a newer request replaced it
        self._current = None
        if stats.finish_reason == "cancelled":
            return
        text = current.text()
        self.latencies_ms.append((time.perf_counter() - current.started) * 1000)
        snapshot = current.snapshot
        if self.tuning.use_cache and text:
            self.cache.put(self.cache.key(self.model_id, snapshot.prefix, snapshot.suffix), text)
        self.suggestion.emit(job_id, text, stats)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        if job_id == self._probe_job:
            self._end_probe()
            return
        if self._sent is not None and self._sent[0] == job_id:
            self._sent = None
        if kind == "context_overflow" and self._remote_window is not None:
            # The server did not say its context length and the window was too big for it: halve it.
            self._remote_window = max(WINDOW_STEP, self._remote_window // 2)
        self._warm_jobs.discard(job_id)
        if self._warm_job == job_id:
            self._warm_job = None  # a failed warm-up says nothing: the real request will
            return
        if self._in_flight(job_id) is not None:
            self._current = None
            self.failed.emit(message)
