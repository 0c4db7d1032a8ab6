"""The one place the window changes and saves the user's settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.core.paths import app_dirs
from app.core.settings import Settings, save_settings


class WindowSettings:
    """A window's settings: every change goes through ``change()``, which saves it.

    Saving merges with what other windows wrote (see ``save_settings``). A
    failure to save is not fatal: it is reported as one line through
    ``report`` and the change stays in memory.
    """

    def __init__(self, settings: Settings, report: Callable[[str], None]) -> None:
        self.settings = settings
        self._report = report

    @contextmanager
    def change(self) -> Iterator[Settings]:
        """Yield the settings to change; they are saved when the block ends without an error."""
        yield self.settings
        self.save()

    def save(self) -> None:
        """Write the settings now; a failure is reported, never raised."""
        try:
            save_settings(app_dirs().ensure().config, self.settings)
        except OSError as exc:
            self._report(f"settings not saved: {exc.strerror or exc}")
