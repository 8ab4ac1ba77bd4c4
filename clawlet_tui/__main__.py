"""``python -m clawlet_tui``: the ``clawlet-tui`` command, for when the entry point is not on PATH.

The web view launches each browser session's dashboard this way, with the interpreter
it runs in (``sys.executable``), so the dashboard comes from the same environment as
the server whatever ``PATH`` holds.
"""

import sys

from .cli import main

sys.exit(main())
