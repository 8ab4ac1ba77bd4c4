"""docs/configuration.md documents every field a user can set: adding one without a line there fails."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from clawlet_tui.engine.config import ALIASES, OptimizationConfig
from clawlet_tui.load import presets
from clawlet_tui.load.keys import KeySpec
from clawlet_tui.load.profiles import SHAPES, LoadProfile
from clawlet_tui.load.warmup import FIELDS as WARMUP_FIELDS
from clawlet_tui.models import _FAULT_PARAMS, _PARAMS
from clawlet_tui.tui.themes import THEME_FIELDS

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def documented() -> set[str]:
    """Every `code span` in the document."""
    return set(re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8")))


def _names() -> dict[str, set[str]]:
    return {
        "engine config field": {f.name for f in dataclasses.fields(OptimizationConfig)},
        "engine config alias": set(ALIASES),
        "preset top-level key": {k for k in presets._TOP_LEVEL if k not in ("engine", "load", "model", "warmup")},
        "[warmup] field": set(WARMUP_FIELDS),
        "[load] field": {f.name for f in dataclasses.fields(LoadProfile) if f.name != "keys"},
        "load shape": set(SHAPES),
        "[load.keys] field": {f.name for f in dataclasses.fields(KeySpec)},
        "model kind": {f'"{kind}"' for kind in _PARAMS},
        "model parameter": set().union(*_PARAMS.values()),
        "fault parameter": set(_FAULT_PARAMS),
        "theme field": set(THEME_FIELDS),
    }


@pytest.mark.parametrize("what", sorted(_names()))
def test_every_settable_name_is_documented(documented: set[str], what: str) -> None:
    missing = sorted(name for name in _names()[what] if name not in documented)
    assert missing == [], f"{what}s missing from docs/configuration.md: {missing}"


def test_the_documented_defaults_of_the_engine_config_are_the_real_ones() -> None:
    """The engine table's default column, for the fields with a plain literal default."""
    rows = {
        m["field"]: m["default"]
        for m in re.finditer(r"^\| `(?P<field>\w+)` \| [^|]+ \| (?P<default>[^|]+?) \|", DOC.read_text(), re.M)
    }
    config = OptimizationConfig()
    for name in ("batch_size", "batch_timeout_s", "l1_cache_size", "max_memory_usage", "max_queue_size", "blas_threads"):
        assert float(rows[name]) == float(getattr(config, name)), name
    assert rows["cache_ttl_s"] == f"{config.cache_ttl_s:g}"
    assert rows["l2_size_limit_bytes"].startswith(str(config.l2_size_limit_bytes))
    for name in ("enable_batching", "enable_cache", "enable_l2", "isolate_failures"):
        assert rows[name] == str(getattr(config, name)).lower(), name
