"""One of two windows saving settings over and over, as each user action does.

Run as ``python tests/crash/settings_writer.py CONFIG_DIR NAME ROUNDS GO_FILE``:
after GO_FILE appears it loads the settings once, then ROUNDS times remembers a
model's runtime settings under a key of its own, opens a file of its own and
saves. It prints "done" and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.core.models.load_params import LoadParams
from app.core.settings import load_settings, save_settings


def main(config_dir: str, name: str, rounds: int, go_file: str) -> int:
    deadline = time.monotonic() + 60
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            return 2
        time.sleep(0.002)
    folder = Path(config_dir)
    settings = load_settings(folder)  # once, as a window does at start
    for round_ in range(rounds):
        settings.set_model_params(f"/models/{name}-{round_}.gguf", LoadParams(n_ctx=512 + round_))
        path = f"/work/{name}-{round_}.py"
        settings.recent_files = [path, *[p for p in settings.recent_files if p != path]][:10]
        if round_ == rounds // 2:
            settings.chat_model = f"/models/{name}-chat.gguf"
        save_settings(folder, settings)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
