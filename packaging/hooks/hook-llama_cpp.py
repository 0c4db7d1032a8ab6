"""PyInstaller hook: ship llama.cpp's shared libraries where llama_cpp looks.

llama_cpp loads ``lib/libllama.so`` (``.dylib``, ``.dll``) next to its own
modules by file name, which PyInstaller's import analysis cannot see; without
this hook a frozen app fails with "Shared library with base name 'llama' not
found". Only the names the loader and the libraries' own DT_NEEDED entries
use are copied (``libggml.so`` and ``libggml.so.0``, not ``libggml.so.0.25.3``).
"""

import os
import re

from PyInstaller.utils.hooks import get_package_paths

_, package_dir = get_package_paths("llama_cpp")
lib_dir = os.path.join(package_dir, "lib")
_FULL_VERSION = re.compile(r"\.so\.\d+\.\d+")

binaries = []
for name in sorted(os.listdir(lib_dir)) if os.path.isdir(lib_dir) else []:
    path = os.path.join(lib_dir, name)
    if os.path.isfile(path) and not _FULL_VERSION.search(name):
        binaries.append((path, os.path.join("llama_cpp", "lib")))

# The OpenAI-compatible server and its web stack are not part of Fimble.
excludedimports = ["llama_cpp.server"]
