"""One of several processes writing to the same chat database at once, as two windows do.

Run as ``python tests/crash/store_writer.py DB NAME ROUNDS GO_FILE``: it waits
for GO_FILE to appear (so that every writer opens the file at the same time),
then chats ROUNDS times in a conversation titled NAME, streaming each answer in
pieces. It exits 0 after printing "done", or 3 after printing the one-line
error a window would have shown.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.core.chat.store import ChatStore, StoreError

PIECES = 5


def answer_piece(name: str, round_: int, piece: int) -> str:
    """The text a writer streams; the test rebuilds it to check every row."""
    return f"{name} answer {round_}.{piece} "


def main(db: str, name: str, rounds: int, go_file: str) -> int:
    deadline = time.monotonic() + 60
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            print("no start signal", file=sys.stderr)
            return 2
        time.sleep(0.002)
    try:
        store = ChatStore(Path(db))
        chat = store.create_conversation(name)
        for round_ in range(rounds):
            store.add_message(chat.id, "user", f"{name} question {round_}")
            answer = store.add_message(chat.id, "assistant", "", partial=True)
            for piece in range(PIECES):
                store.append_to_message(answer.id, answer_piece(name, round_, piece))
            store.finish_message(answer.id, stop_reason="stop", stats={"round": round_})
            if round_ % 10 == 0:
                store.conversations()
                store.search(name)
        store.close()
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return 3
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
