"""SecondHitFilter: a key is admitted the second time it is seen, memory stays bounded."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawlet_tui.engine.admission import SecondHitFilter


def test_a_key_is_admitted_on_its_second_sighting_not_its_first():
    f = SecondHitFilter()
    assert f.admit(hash("a")) is False
    assert f.admit(hash("a")) is True
    assert f.admit(hash("a")) is True
    assert f.admit(hash("b")) is False


@given(st.sets(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=200))
def test_every_key_seen_before_is_admitted(keys):
    """No false negatives below capacity: a repeating key always gets into L2."""
    f = SecondHitFilter()
    for key in keys:
        f.admit(key)
    assert all(f.admit(key) for key in keys)


def test_false_admissions_of_new_keys_stay_rare_up_to_capacity():
    """One-hit wonders are declined: at capacity, at most ~5% of new keys get through."""
    rng = random.Random(7)
    f = SecondHitFilter(capacity=20_000, bits_log2=18)  # same load factor as the default
    for _ in range(19_000):
        f.admit(hash(str(rng.random())))
    fresh = [hash(f"new-{i}") for i in range(5_000)]
    false_admits = sum(f.admit(key) for key in fresh)
    assert false_admits / len(fresh) < 0.08


def test_the_filter_starts_afresh_when_full():
    f = SecondHitFilter(capacity=3)
    for key in (1, 2, 3):
        assert f.admit(key) is False
    assert f.remembered == 3 and f.resets == 0
    assert f.admit(4) is False  # full: forgets 1, 2, 3 and remembers 4
    assert f.resets == 1 and f.remembered == 1
    assert f.admit(1) is False
    assert f.admit(4) is True


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        SecondHitFilter(capacity=0)
