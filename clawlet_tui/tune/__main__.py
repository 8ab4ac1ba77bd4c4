"""``python -m clawlet_tui.tune PRESET --slo-p99 MS ...``: the tune command until the main CLI mounts it."""

import sys

from .command import main

sys.exit(main())
