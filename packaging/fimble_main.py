"""Entry point of the frozen app: ``fimble`` starts the GUI, flags the CLI.

``freeze_support`` runs first, inside ``app.cli.main``, so that engine host
processes spawned from the frozen executable run their target and exit.
"""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
