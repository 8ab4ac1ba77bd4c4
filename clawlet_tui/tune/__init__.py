"""Live auto-tuning: search engine configs on one running engine under a preset's load.

* :mod:`.space` - the bounded grid of tunable fields (``--params``);
* :mod:`.measure` - one trial: reconfigure, warm up, windows until stable (perf_analyzer's rule);
* :mod:`.objective` - closed loop: max throughput with P99 <= SLO; open loop: min P99;
* :mod:`.search` - the noise-aware hill climb (Model Analyzer's quick mode, re-measuring the best);
* :mod:`.racing` - ends a climb's trial early once it clearly cannot beat the incumbent;
* :mod:`.capacity` - the highest open-loop rate a config sustains under the SLO
  (the rule and the search; :mod:`.capacity_live` runs it on one live engine; ``clawlet-tui capacity`` is
  :mod:`.capacity_command` and :mod:`.capacity_report`; ``tune --objective capacity``);
* :mod:`.pareto` - the throughput / P99 front;
* :mod:`.tuner` - the session: engine started once, load throughout, every request accounted;
* :mod:`.output`, :mod:`.report`, :mod:`.presetfile` - the live table, ``--report``, ``--out``;
* :mod:`.command` - ``add_arguments`` / ``run`` for ``clawlet-tui tune`` (and ``python -m clawlet_tui.tune``).
"""

from .measure import Measurement, MeasureSettings, Window, is_stable
from .objective import Estimate, Objective
from .pareto import pareto_front
from .search import HillClimb, SearchResult
from .space import DEFAULT_PARAMS, Axis, SearchSpace, parse_params

__all__ = [
    "DEFAULT_PARAMS",
    "Axis",
    "Estimate",
    "HillClimb",
    "MeasureSettings",
    "Measurement",
    "Objective",
    "SearchResult",
    "SearchSpace",
    "Window",
    "is_stable",
    "pareto_front",
    "parse_params",
]
