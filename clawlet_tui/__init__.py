"""clawlet-tui: a terminal lab for model-serving optimization.

The engine (:mod:`clawlet_tui.engine`) is a plain asyncio library; the dashboard
(:mod:`clawlet_tui.tui`) and the headless runner (:mod:`clawlet_tui.cli`) sit on top.
"""

__version__ = "0.1.0"
