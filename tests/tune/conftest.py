"""Shared fixtures for the tune tests: a short closed-loop preset on the ``latency`` model."""

from __future__ import annotations

from pathlib import Path

import pytest

SHORT_PRESET = """\
name = "{name}"
description = "closed loop, 8 clients on a 1 ms + 0.1 ms/item latency model"
slo_p99_ms = 500

[engine]
batch_size = 2
batch_timeout_s = 0.002
max_concurrent = 1
l1_cache_size = 64

[load]
mode = "{mode}"
{load}
duration_s = 5

[load.keys]
distribution = "uniform"
key_count = 1000

[model]
kind = "latency"
fixed_ms = 1.0
per_item_ms = 0.1
"""


def write_preset(folder: Path, name: str = "short", mode: str = "closed", load: str = "concurrency = 8") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(SHORT_PRESET.format(name=name, mode=mode, load=load), encoding="utf-8")
    return path


@pytest.fixture
def short_preset(tmp_path: Path) -> Path:
    return write_preset(tmp_path)
