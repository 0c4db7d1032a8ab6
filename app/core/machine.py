"""What the machine has: RAM and free disk, read without extra packages."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    """Physical memory in bytes; ``available`` is what can be used without swapping."""

    total: int
    available: int


def memory() -> Memory:
    """Return the machine's RAM; zeros when the platform will not say."""
    if sys.platform.startswith("linux"):
        return _linux_memory()
    if sys.platform == "win32":
        return _windows_memory()
    return _sysconf_memory()


def _linux_memory() -> Memory:
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    fields[key] = int(parts[0]) * 1024
    except OSError:
        return _sysconf_memory()
    total = fields.get("MemTotal", 0)
    available = fields.get("MemAvailable", fields.get("MemFree", 0) + fields.get("Cached", 0))
    return Memory(total, available)


def _windows_memory() -> Memory:  # pragma: no cover - exercised on Windows only
    if sys.platform != "win32":  # ctypes.windll exists on Windows only
        return Memory(0, 0)

    class _Status(ctypes.Structure):
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("load", ctypes.c_ulong),
            ("total", ctypes.c_ulonglong),
            ("available", ctypes.c_ulonglong),
            ("page_total", ctypes.c_ulonglong),
            ("page_free", ctypes.c_ulonglong),
            ("virtual_total", ctypes.c_ulonglong),
            ("virtual_free", ctypes.c_ulonglong),
            ("extended", ctypes.c_ulonglong),
        ]

    status = _Status()
    status.length = ctypes.sizeof(_Status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return Memory(0, 0)
    return Memory(int(status.total), int(status.available))


def _sysconf_memory() -> Memory:
    if sys.platform == "win32":  # os.sysconf is POSIX-only
        return Memory(0, 0)
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return Memory(0, 0)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError):
        available = total
    return Memory(total, available)


def disk_free(path: str | os.PathLike[str]) -> int:
    """Return the free bytes on the disk holding ``path`` (or its nearest existing parent)."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def human_bytes(count: float) -> str:
    """Format a byte count the way the UI and CLI show sizes: ``4.9 GB``, ``512 MB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit in ("B", "KB") else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
