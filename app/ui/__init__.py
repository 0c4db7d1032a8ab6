"""The desktop window: Qt widgets over the services.

PySide6 is imported here, before any of the window's modules, so that its
per-import source scan can be replaced first (``app.import_scan``).
"""

import PySide6.QtCore  # noqa: F401 - installs PySide's import hook, which the next line adjusts

from app.import_scan import skip_source_scan

skip_source_scan()
