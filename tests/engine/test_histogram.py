"""LogHistogram percentiles against numpy (examples and hypothesis), merging, bulk recording."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawlet_tui.engine import monitor
from clawlet_tui.engine.histogram import LogHistogram


def _histogram(samples) -> LogHistogram:
    h = LogHistogram()
    for x in samples:
        h.record(float(x))
    return h


def _check(samples, rel=0.01) -> None:
    h = _histogram(samples)
    got = h.percentiles((50.0, 90.0, 99.0))
    want = np.percentile(np.asarray(samples, dtype=np.float64), [50, 90, 99])
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=rel), (got, want)
    assert h.count == len(samples)
    assert h.max == pytest.approx(max(samples)) and h.mean == pytest.approx(np.mean(samples))


def _uniform(rng, n):
    return rng.uniform(0.5, 200.0, n)


def _lognormal(rng, n):
    return rng.lognormal(mean=1.0, sigma=1.5, size=n)


def _bimodal(rng, n):
    return np.where(rng.random(n) < 0.8, rng.normal(2.0, 0.2, n).clip(0.01), rng.normal(300.0, 20.0, n).clip(1))


@pytest.mark.parametrize("dist", [_uniform, _lognormal, _bimodal], ids=["uniform", "lognormal", "bimodal"])
@pytest.mark.parametrize("n", [1, 2, 10, 1000, 100_000])
def test_percentiles_match_numpy(dist, n):
    _check(dist(np.random.default_rng(n), n))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=1_000_000.0), min_size=1, max_size=300))
def test_percentiles_match_numpy_property(samples):
    _check(samples)


def test_empty_histogram_and_stats():
    h = LogHistogram()
    assert h.percentiles((50.0, 99.0)) == (0.0, 0.0)
    assert h.stats().count == 0
    h.record(3.0)
    s = h.stats()
    assert (s.count, s.mean_ms, s.p50_ms, s.p99_ms, s.max_ms) == (1, 3.0, 3.0, 3.0, 3.0)


def test_merge_equals_recording_everything():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(size=500), rng.lognormal(size=300)
    merged = _histogram(a)
    merged.merge(_histogram(b))
    whole = _histogram(np.concatenate([a, b]))
    assert merged.percentiles((50, 90, 99)) == whole.percentiles((50, 90, 99))
    assert merged.count == whole.count and merged.max == whole.max and merged.min == whole.min


def test_record_many_equals_recording_one_by_one():
    values = np.random.default_rng(3).uniform(0.0, 50.0, 1000)
    one, many = LogHistogram(), LogHistogram()
    for v in values:
        one.record(float(v))
    many.record_many(values.tolist())
    assert np.array_equal(one.counts, many.counts)
    assert (one.count, one.min, one.max) == (many.count, many.min, many.max)
    assert one.total == pytest.approx(many.total)


def test_monitor_still_exports_the_histogram():
    assert monitor.LogHistogram is LogHistogram


def test_display_bucket_edges_are_exact_for_values_just_either_side() -> None:
    """A Prometheus ``le`` bound taken from a display edge must count exactly the values at
    or below it: a value 0.01% under an edge is below it, 0.01% over is above."""
    from clawlet_tui.engine.histogram import DISPLAY_BUCKETS_PER_DECADE, LogHistogram

    for k in range(-8, 33):  # edges from 0.1 ms to 10 s
        edge_ms = 10.0 ** (k / DISPLAY_BUCKETS_PER_DECADE)
        histogram = LogHistogram()
        histogram.record_many([edge_ms * 0.9999, edge_ms * 1.0001])
        buckets = histogram.display_buckets()
        below = sum(count for _, high, count in buckets if high <= edge_ms * (1 + 1e-12))
        assert below == 1, (k, buckets)
