"""Load generation: key distributions, load profiles, the load generator and presets.

* :class:`KeySpec` / :class:`KeySampler` - which key (and so which payload) each request uses;
* :class:`LoadProfile` / :class:`ArrivalSchedule` - how many requests, and when;
* :class:`LoadGenerator` / :class:`LoadStats` - drives an engine with a profile;
* :class:`Preset`, :func:`load_preset`, :func:`list_presets` - the TOML files in ``presets/``.
"""

from .generator import MAX_OUTSTANDING, LoadGenerator, LoadStats
from .keys import DISTRIBUTIONS, KeySampler, KeySpec
from .presets import PRESETS_DIR_ENV, Preset, list_presets, load_preset, parse_preset, preset_dirs, preset_names
from .profiles import MODES, SHAPES, ArrivalSchedule, LoadProfile

__all__ = [
    "DISTRIBUTIONS",
    "MAX_OUTSTANDING",
    "MODES",
    "PRESETS_DIR_ENV",
    "SHAPES",
    "ArrivalSchedule",
    "KeySampler",
    "KeySpec",
    "LoadGenerator",
    "LoadProfile",
    "LoadStats",
    "Preset",
    "list_presets",
    "load_preset",
    "parse_preset",
    "preset_dirs",
    "preset_names",
]
