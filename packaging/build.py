"""Build the one-folder app with PyInstaller, then the Linux archives.

Usage: ``python packaging/build.py [--with-starter] [--no-archives]``
(``make package`` runs it). The result is ``dist/Fimble/fimble``; on Linux
also ``dist/Fimble-<version>-linux-<arch>.tar.gz`` and, when ``appimagetool``
is on PATH, ``dist/Fimble-<version>-<arch>.AppImage``. The last line printed
is one JSON object with the sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUNDLE = DIST / "Fimble"
# Distributions whose code ships in the bundle; their license files go with it.
SHIPPED = [
    "PySide6_Essentials",
    "shiboken6",
    "llama_cpp_python",
    "numpy",
    "gguf",
    "Jinja2",
    "MarkupSafe",
    "Pygments",
    "platformdirs",
    "PyYAML",
    "tqdm",
    "diskcache",
    "typing_extensions",
]


def folder_size(folder: Path) -> int:
    """Return the bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def run_pyinstaller(with_starter: bool) -> None:
    """Run PyInstaller on ``packaging/fimble.spec``."""
    env = dict(os.environ, FIMBLE_WITH_STARTER="1" if with_starter else "0")
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(ROOT / "packaging" / "fimble.spec"),
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(DIST),
        "--workpath",
        str(ROOT / "build" / "pyinstaller"),
    ]
    subprocess.run(command, check=True, cwd=ROOT, env=env)


def copy_licenses(bundle: Path, with_starter: bool) -> list[str]:
    """Put Fimble's notices and each shipped distribution's license files in ``licenses/``."""
    target = bundle / "licenses"
    third_party = target / "third-party"
    third_party.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "LICENSE", target / "FIMBLE-LICENSE.txt")
    shutil.copy(ROOT / "resources" / "licenses" / "QT-LGPL-NOTICE.txt", target)
    if with_starter:
        shutil.copy(ROOT / "resources" / "licenses" / "GEMMA-NOTICE.txt", target)
    copied = []
    for name in SHIPPED:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            lowered = file.name.lower()
            if "licen" in lowered or "copying" in lowered or "notice" in lowered:
                destination = third_party / dist.metadata["Name"] / file.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file.locate(), destination)
                copied.append(f"{dist.metadata['Name']}/{file.name}")
    return copied


def link_duplicate_libraries(bundle: Path) -> int:
    """Turn ``libx.so`` copies of ``libx.so.0`` back into symlinks; return bytes saved."""
    saved = 0
    for soname in bundle.rglob("llama_cpp/lib/*.so.[0-9]"):
        plain = soname.with_name(soname.name.rsplit(".so.", 1)[0] + ".so")
        if plain.is_file() and not plain.is_symlink() and plain.read_bytes() == soname.read_bytes():
            saved += plain.stat().st_size
            plain.unlink()
            plain.symlink_to(soname.name)
    return saved


def strip_libpython(bundle: Path) -> int:
    """Strip debug symbols from libpython (some Python builds ship them); return bytes saved."""
    tool = shutil.which("strip")
    saved = 0
    for library in bundle.rglob("libpython3*.so*"):
        if tool is None or library.is_symlink():
            continue
        before = library.stat().st_size
        subprocess.run([tool, "--strip-unneeded", str(library)], check=True)
        saved += before - library.stat().st_size
    return saved


def make_tarball(version: str) -> Path:
    """Pack ``dist/Fimble`` as a .tar.gz."""
    archive = DIST / f"Fimble-{version}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(BUNDLE, arcname="Fimble")
    return archive


def make_appimage(version: str) -> Path | None:
    """Lay out an AppDir and run appimagetool, if it is installed."""
    tool = shutil.which("appimagetool")
    appdir = ROOT / "build" / "Fimble.AppDir"
    shutil.rmtree(appdir, ignore_errors=True)
    shutil.copytree(BUNDLE, appdir / "usr" / "lib" / "fimble", symlinks=True)
    (appdir / "usr" / "bin").mkdir(parents=True)
    (appdir / "usr" / "bin" / "fimble").symlink_to("../lib/fimble/fimble")
    shutil.copy(ROOT / "resources" / "linux" / "io.fimble.Fimble.desktop", appdir)
    shutil.copy(ROOT / "resources" / "icons" / "fimble-256.png", appdir / "io.fimble.Fimble.png")
    metainfo = appdir / "usr" / "share" / "metainfo"
    metainfo.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "linux" / "io.fimble.Fimble.metainfo.xml", metainfo)
    apprun = appdir / "AppRun"
    apprun.write_text('#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/usr/lib/fimble/fimble" "$@"\n')
    apprun.chmod(0o755)
    if tool is None:
        print("appimagetool is not installed: AppDir left in build/Fimble.AppDir, no AppImage made")
        return None
    image = DIST / f"Fimble-{version}-{platform.machine()}.AppImage"
    subprocess.run([tool, str(appdir), str(image)], check=True, env=dict(os.environ, ARCH=platform.machine()))
    return image


def main(argv: list[str] | None = None) -> int:
    """Build; print one JSON object describing the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-starter", action="store_true", help="bundle the Gemma 3 270M starter model")
    parser.add_argument("--no-archives", action="store_true", help="skip the .tar.gz and AppImage")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from app import __version__

    run_pyinstaller(args.with_starter)
    licenses = copy_licenses(BUNDLE, args.with_starter)
    if sys.platform.startswith("linux"):
        link_duplicate_libraries(BUNDLE)
        strip_libpython(BUNDLE)
    result = {
        "bundle": str(BUNDLE),
        "bundle_bytes": folder_size(BUNDLE),
        "with_starter": args.with_starter,
        "license_files": len(licenses),
    }
    if sys.platform.startswith("linux") and not args.no_archives:
        tarball = make_tarball(__version__)
        result["tarball"], result["tarball_bytes"] = str(tarball), tarball.stat().st_size
        image = make_appimage(__version__)
        result["appimage"] = str(image) if image else None
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
