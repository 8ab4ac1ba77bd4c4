"""Key distributions: exact sequences, and empirical frequencies against the pmf."""

from __future__ import annotations

import numpy as np
import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.load import KeySampler, KeySpec

N = 200_000


def draw(spec: KeySpec, n: int = N) -> np.ndarray:
    sampler = KeySampler(spec)
    return np.array([sampler.next() for _ in range(n)])


def test_unique_keys_count_up():
    sampler = KeySampler(KeySpec("unique", key_count=3))
    assert [sampler.next() for _ in range(10)] == list(range(10))


def test_same_seed_same_stream_other_seed_other_stream():
    a = draw(KeySpec("zipf", 100, 1.1, seed=7), 1000)
    b = draw(KeySpec("zipf", 100, 1.1, seed=7), 1000)
    c = draw(KeySpec("zipf", 100, 1.1, seed=8), 1000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniform_chi_square():
    k = 20
    keys = draw(KeySpec("uniform", key_count=k, seed=1))
    assert keys.min() == 0 and keys.max() == k - 1
    observed = np.bincount(keys, minlength=k)
    expected = N / k
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 43.8  # 99.9th percentile of chi-square with 19 degrees of freedom


@pytest.mark.parametrize("s", [0.8, 1.1, 1.5])
def test_zipf_top_ranks_match_pmf(s):
    spec = KeySpec("zipf", key_count=1000, zipf_s=s, seed=3)
    keys = draw(spec)
    assert keys.min() >= 0 and keys.max() < 1000
    pmf = spec.pmf()
    freq = np.bincount(keys, minlength=1000) / N
    for rank in range(10):
        p = pmf[rank]
        sigma = np.sqrt(p * (1 - p) / N)
        assert abs(freq[rank] - p) < 5 * sigma, (rank, freq[rank], p)
    # most popular first: frequencies of the top ranks decrease
    assert list(freq[:5]) == sorted(freq[:5], reverse=True)


def test_zipf_chi_square_over_rank_buckets():
    spec = KeySpec("zipf", key_count=1000, zipf_s=1.1, seed=4)
    keys = draw(spec)
    edges = [0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]
    observed = np.histogram(keys, bins=edges)[0]
    cdf = np.concatenate([[0.0], np.cumsum(spec.pmf())])
    expected = N * np.diff(cdf[edges])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 29.6  # 99.9th percentile, 10 degrees of freedom


def test_zipf_pmf_is_normalised_and_follows_power_law():
    pmf = KeySpec("zipf", key_count=50, zipf_s=2.0).pmf()
    assert pmf.sum() == pytest.approx(1.0)
    assert pmf[0] / pmf[1] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distribution": "normal"}, "distribution"),
        ({"key_count": 0}, "key_count"),
        ({"key_count": 2.5}, "key_count"),
        ({"key_count": True}, "key_count"),
        ({"zipf_s": 0}, "zipf_s"),
        ({"zipf_s": float("nan")}, "zipf_s"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_keyspec_validation_names_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        KeySpec(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_describe():
    assert KeySpec("unique").describe() == "unique keys"
    assert KeySpec("uniform", 10).describe() == "uniform over 10 keys"
    assert KeySpec("zipf", 1000, 1.1).describe() == "zipf(1.1) over 1000 keys"
