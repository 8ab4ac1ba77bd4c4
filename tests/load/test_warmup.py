"""Cache warm-up: which keys (top_keys, keys_file), its validation, and its accounting.

The accounting tests drive a real :class:`ClawletEngine` with an async model whose "load"
keys (>= 1000) wait on a gate, so load requests can be held in flight while a warm-up
runs beside them; they synchronize on the gate and on futures, never on sleeps.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.errors import ConfigError, PresetError
from clawlet_tui.load import load_preset
from clawlet_tui.load.keys import KeySpec
from clawlet_tui.load.warmup import (
    WarmupPlan,
    WarmupProgress,
    default_plan,
    plan_for,
    read_keys_file,
    top_keys,
    warm_up,
)
from clawlet_tui.models import FunctionModel

LOAD_KEYS = 1000


# -- top_keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("s", [0.6, 1.1, 2.0])
def test_top_keys_of_a_zipf_are_exactly_the_most_likely(s: float) -> None:
    spec = KeySpec(distribution="zipf", key_count=300, zipf_s=s)
    chosen = top_keys(spec, 40)
    # Zipf: P(rank k) ~ 1/(k+1)**s, so the 40 likeliest keys are 0..39, likeliest first
    assert chosen == tuple(range(40))
    pmf = spec.pmf()
    assert min(pmf[list(chosen)]) >= max(np.delete(pmf, list(chosen)))


def test_top_keys_match_sampling_frequencies() -> None:
    """The keys top_keys picks are the ones a load draws most (the sampler's own stream)."""
    from clawlet_tui.load.keys import KeySampler

    spec = KeySpec(distribution="zipf", key_count=50, zipf_s=1.5, seed=7)
    counts = np.bincount(KeySampler(spec).sample(200_000), minlength=50)
    assert set(top_keys(spec, 3)) == set(np.argsort(-counts)[:3].tolist())


def test_top_keys_of_a_uniform_take_the_smallest_of_equally_likely_keys() -> None:
    assert top_keys(KeySpec(distribution="uniform", key_count=10), 4) == (0, 1, 2, 3)
    assert top_keys(KeySpec(distribution="uniform", key_count=10), 10) == tuple(range(10))


def test_top_keys_refuses_unique_keys_and_more_keys_than_the_load_has() -> None:
    with pytest.raises(ConfigError, match="unique"):
        top_keys(KeySpec(distribution="unique"), 5)
    with pytest.raises(ConfigError, match="at most the 10 keys"):
        top_keys(KeySpec(distribution="uniform", key_count=10), 11)


def test_default_plan_warms_what_l1_holds_or_the_whole_key_set() -> None:
    zipf = KeySpec(distribution="zipf", key_count=1000)
    assert default_plan(zipf, l1_cache_size=64).keys == tuple(range(64))
    assert default_plan(KeySpec(distribution="uniform", key_count=20), l1_cache_size=64).keys == tuple(range(20))
    with pytest.raises(ConfigError, match=r"no \[warmup\] table, and .*unique"):
        default_plan(KeySpec(distribution="unique"), l1_cache_size=64)


# -- keys_file and the [warmup] table ----------------------------------------------------

PRESET = """\
description = "warm-up test"
[load]
rate_rps = 50
duration_s = 1
[load.keys]
distribution = "zipf"
key_count = 100
"""


def write_preset(tmp_path: Path, warmup: str, name: str = "warm") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(PRESET + "[warmup]\n" + warmup)
    return path


def test_keys_file_keeps_order_skips_comments_blanks_and_repeats(tmp_path: Path) -> None:
    (tmp_path / "hot.txt").write_text("# the hot keys\n7\n\n3  # second\n7\n 42 \n")
    preset = load_preset(write_preset(tmp_path, 'keys_file = "hot.txt"'))
    assert preset.warmup == WarmupPlan((7, 3, 42), "hot.txt")


def test_top_keys_in_a_preset(tmp_path: Path) -> None:
    preset = load_preset(write_preset(tmp_path, "top_keys = 5"))
    assert preset.warmup is not None and preset.warmup.keys == (0, 1, 2, 3, 4)
    assert plan_for(preset, l1_cache_size=64) is preset.warmup


@pytest.mark.parametrize(
    ("table", "file_text", "expected"),
    [
        ('keys_file = "hot.txt"', "1\nabc\n", "warm.toml: warmup.keys_file: hot.txt line 2: 'abc' is not an integer key"),
        ('keys_file = "hot.txt"', "1\n100\n", "warmup.keys_file: hot.txt line 2: key 100 is never asked for by the load (its keys are 0 .. 99)"),
        ('keys_file = "hot.txt"', "-1\n", "hot.txt line 1: key -1 is never asked for"),
        ('keys_file = "hot.txt"', "# nothing\n\n", "warmup.keys_file: '"),
        ('keys_file = "missing.txt"', None, "warmup.keys_file: cannot read '"),
        ('keys_file = ""', None, "warmup.keys_file: must be a non-empty string"),
        ("top_keys = 0", None, "warmup.top_keys: must be an integer >= 1, got 0"),
        ('top_keys = "5"', None, "warmup.top_keys: must be an integer >= 1, got '5'"),
        ("top_keys = 101", None, "warmup.top_keys: must be at most the 100 keys of the load, got 101"),
        ('top_keys = 5\nkeys_file = "hot.txt"', "1\n", "warmup: give one of top_keys"),
        ("", None, "warmup: give one of top_keys"),
        ("top_key = 5", None, "warmup.top_key: unknown field"),
    ],
)
def test_a_bad_warmup_table_is_one_line_naming_file_field_and_reason(
    tmp_path: Path, table: str, file_text: str | None, expected: str
) -> None:
    if file_text is not None:
        (tmp_path / "hot.txt").write_text(file_text)
    with pytest.raises(PresetError) as info:
        load_preset(write_preset(tmp_path, table + "\n"))
    message = str(info.value)
    assert "\n" not in message
    assert "warm.toml" in message and expected in message


def test_an_empty_keys_file_says_it_holds_no_key(tmp_path: Path) -> None:
    (tmp_path / "hot.txt").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no key"):
        read_keys_file(tmp_path / "hot.txt", KeySpec(distribution="zipf", key_count=10))


def test_warmup_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "warm.toml"
    path.write_text("warmup = 5\n" + PRESET)
    with pytest.raises(PresetError, match="warm.toml: warmup: must be a table, got int"):
        load_preset(path)


def test_a_bad_warmup_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clawlet_tui import cli

    (tmp_path / "hot.txt").write_text("x\n")
    code = cli.main(["run", str(write_preset(tmp_path, 'keys_file = "hot.txt"'))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"clawlet-tui: error: {tmp_path / 'warm.toml'}: warmup.keys_file: hot.txt line 1: 'x' is not an integer key"]


# -- running: accounting -----------------------------------------------------------------


class GatedModel:
    """Echoes its inputs; a batch holding a load key (>= LOAD_KEYS) waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls: list[list[int]] = []
        self.held = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

        async def predict(batch: list[Any]) -> list[Any]:
            keys = [int(x[0]) for x in batch]
            self.calls.append(keys)
            if max(keys) >= LOAD_KEYS:
                self.held += 1
                for n, waiter in self._waiters:
                    if self.held >= n and not waiter.done():
                        waiter.set_result(None)
                await self.gate.wait()
            return [x * 2 for x in batch]

        self.model = FunctionModel(predict, name="gated", make_input=lambda key: np.full(4, key, dtype=np.float32))

    def holding(self, n: int) -> asyncio.Future[None]:
        """Resolves once ``n`` batches with a load key wait on the gate."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.held >= n:
            waiter.set_result(None)
        self._waiters.append((n, waiter))
        return waiter


def engine_for(model: Any, tmp_path: Path, **config: Any) -> ClawletEngine:
    settings: dict[str, Any] = {
        "batch_size": 1, "max_concurrent": 4, "l1_cache_size": 64, "l2_cache_dir": str(tmp_path / "l2"),
    }
    settings.update(config)
    return ClawletEngine(OptimizationConfig(**settings), model)


def accounted(engine: ClawletEngine) -> bool:
    o = engine.snapshot().outcomes
    return o.submitted == o.finished + o.in_flight and o.in_flight >= 0


async def test_warm_up_fills_the_cache_and_leaves_no_trace_in_the_metrics(tmp_path: Path) -> None:
    gated = GatedModel()
    engine = engine_for(gated.model, tmp_path)
    await engine.start()
    try:
        seen: list[WarmupProgress] = []
        result = await warm_up(engine, WarmupPlan(tuple(range(20)), "test"), progress=seen.append)
        snap = engine.snapshot()
        assert (result.succeeded, result.failed, result.keys) == (20, (), 20)
        assert seen[-1].finished and seen[-1].done == 20 and sum(p.finished for p in seen) == 1
        # nothing of the warm-up in the load's figures ...
        assert snap.outcomes.submitted == 0 and snap.outcomes.finished == 0
        assert snap.total_latency.count == 0 and snap.batches.count == 0
        assert (snap.cache.l1.hits, snap.cache.l1.misses, snap.cache.l2.hits, snap.cache.l2.misses) == (0, 0, 0, 0)
        assert snap.opening.cache_lookups == 0 and snap.opening.latency.count == 0
        # ... but the values are there: L1 holds them, L2 has them on disk
        assert snap.cache.l1.size == 20 and snap.cache.l2.size == 20
        calls = len(gated.calls)
        for key in range(20):
            await engine.submit(gated.model.make_input(key), key=key)
        snap = engine.snapshot()
        assert len(gated.calls) == calls  # all served from the cache
        assert snap.outcomes.submitted == snap.outcomes.succeeded == 20
        assert snap.cache.hit_rate == 1.0 and snap.opening.hit_rate == 1.0 and snap.opening.latency.count == 20
    finally:
        await engine.stop()


async def test_warm_up_beside_a_running_load_keeps_every_request_accounted(tmp_path: Path) -> None:
    """Load requests in flight across the warm-up's reset still end in one counted outcome,
    and no warm-up request is in the load's counts."""
    gated = GatedModel()
    engine = engine_for(gated.model, tmp_path)
    await engine.start()
    try:
        load = [
            asyncio.ensure_future(engine.submit(gated.model.make_input(k), key=k))
            for k in range(LOAD_KEYS, LOAD_KEYS + 3)
        ]
        await gated.holding(3)  # all three held by the model
        result = await warm_up(engine, WarmupPlan(tuple(range(30)), "test"))
        assert result.succeeded + result.failed_total == 30
        o = engine.snapshot().outcomes
        assert (o.submitted, o.in_flight, o.succeeded) == (3, 3, 0)  # the load's three, still counted
        assert accounted(engine)
        gated.gate.set()
        await asyncio.gather(*load)
        o = engine.snapshot().outcomes
        assert (o.submitted, o.succeeded, o.in_flight) == (3, 3, 0)
    finally:
        gated.gate.set()
        await engine.stop()


async def test_warm_up_failures_are_counted_in_the_warm_up_alone(tmp_path: Path) -> None:
    async def predict(batch: list[Any]) -> list[Any]:
        if any(int(x[0]) % 5 == 0 for x in batch):
            raise ValueError("no multiples of five")
        return list(batch)

    model = FunctionModel(predict, name="picky", make_input=lambda key: np.full(2, key, dtype=np.float32))
    engine = engine_for(model, tmp_path)
    await engine.start()
    try:
        result = await warm_up(engine, WarmupPlan(tuple(range(20)), "test"))
        assert result.succeeded == 16 and result.failed == (("BackendError", 4),)
        assert result.succeeded + result.failed_total == result.keys
        assert "4 failed (BackendError 4)" in result.describe()
        o = engine.snapshot().outcomes
        assert (o.submitted, o.failed, o.errors_by_kind) == (0, 0, ())
    finally:
        await engine.stop()


async def test_a_cancelled_warm_up_ends_every_request_it_sent(tmp_path: Path) -> None:
    gated = GatedModel()
    engine = engine_for(gated.model, tmp_path, max_concurrent=2)
    await engine.start()
    try:
        keys = tuple(range(LOAD_KEYS, LOAD_KEYS + 10))  # every one of them waits on the gate
        task = asyncio.ensure_future(warm_up(engine, WarmupPlan(keys, "test")))
        await gated.holding(2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        o = engine.snapshot().outcomes
        assert o.in_flight == 0 and o.submitted == o.cancelled + o.succeeded + o.failed
    finally:
        gated.gate.set()
        await engine.stop()
