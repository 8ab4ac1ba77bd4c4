"""runner.run_preset with a warm-up: the load's figures start after it, cold vs warm first minute."""

from __future__ import annotations

from pathlib import Path

from clawlet_tui.load import load_preset
from clawlet_tui.runner import run_preset

PRESET = """\
description = "runner warm-up test"
[engine]
batch_size = 4
l1_cache_size = 64
[load]
mode = "open"
shape = "constant"
rate_rps = 100
duration_s = 0.4
[load.keys]
distribution = "zipf"
key_count = 30
[model]
kind = "latency"
fixed_ms = 1.0
per_item_ms = 0.1
[warmup]
top_keys = 30
"""


async def test_a_warm_run_counts_only_the_load_and_its_first_minute_hits_every_key(tmp_path: Path) -> None:
    path = tmp_path / "warm.toml"
    path.write_text(PRESET, encoding="utf-8")
    preset = load_preset(path)
    assert preset.warmup is not None
    warm = await run_preset(preset, warmup=preset.warmup)
    cold = await run_preset(preset)
    assert warm.warmup is not None and cold.warmup is None
    assert (warm.warmup.keys, warm.warmup.succeeded, warm.warmup.failed) == (30, 30, ())
    for result in (warm, cold):
        o = result.snapshot.outcomes
        assert o.submitted == o.succeeded == result.load_stats.sent == 40  # the load's requests only
        assert result.snapshot.opening.latency.count == 40
        assert result.snapshot.opening.cache_lookups == 40
    assert warm.snapshot.opening.hit_rate == 1.0
    # cold: the first request for each distinct key misses
    distinct = 40 - cold.snapshot.opening.cache_hits
    assert 0 < distinct <= 30 and cold.snapshot.opening.hit_rate < 1.0


async def test_baseline_has_no_cache_to_warm(tmp_path: Path) -> None:
    path = tmp_path / "warm.toml"
    path.write_text(PRESET, encoding="utf-8")
    preset = load_preset(path)
    result = await run_preset(preset, mode="baseline", warmup=preset.warmup)
    assert result.warmup is None
    assert result.snapshot.outcomes.submitted == result.load_stats.sent
