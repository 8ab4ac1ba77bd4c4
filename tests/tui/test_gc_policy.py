"""gc_policy: start-up objects leave the collector's reach while a live run is on (issue 13).

Full collections over the dashboard's ~90,000 start-up objects paused the engine for
60-120 ms; these tests pin the behaviour that prevents it, without timing anything.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from clawlet_tui.tui import gc_policy


class Node:
    """A weak-referenceable object to build reference cycles from."""

    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    """A two-node reference cycle that only the cyclic collector can free; a weakref to it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def no_leftover_freeze() -> Iterator[None]:
    assert gc_policy.holders() == 0, "an earlier test left the process frozen"
    yield
    while gc_policy.holders():
        gc_policy.thaw()
    gc.unfreeze()


def test_freeze_moves_live_objects_out_of_reach_and_thaw_gives_them_back() -> None:
    survivor = Node()
    survivor.other = survivor  # a cycle kept alive by `survivor`
    ref = weakref.ref(survivor)
    assert gc_policy.freeze() is True
    assert gc.get_freeze_count() > 0 and gc_policy.holders() == 1
    del survivor
    gc.collect()
    assert ref() is not None, "a frozen cycle must not be collected"
    gc_policy.thaw()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None


def test_freeze_collects_garbage_first_so_none_is_frozen() -> None:
    garbage = _cycle()  # unreachable already
    gc_policy.freeze()
    assert garbage() is None


def test_refreeze_frees_a_cycle_that_died_while_frozen() -> None:
    """What a preset switch relies on to free a dropped engine."""
    gc_policy.freeze()
    keep = Node()
    keep.other = keep
    gc_policy.refreeze()  # `keep` is frozen now
    ref = weakref.ref(keep)
    del keep
    gc.collect()
    assert ref() is not None
    gc_policy.refreeze()
    assert ref() is None and gc.get_freeze_count() > 0


def test_frozen_until_the_last_holder_thaws() -> None:
    gc_policy.freeze()
    gc_policy.freeze()
    gc_policy.thaw()
    assert gc.get_freeze_count() > 0
    gc_policy.thaw()
    assert gc.get_freeze_count() == 0
    gc_policy.thaw()  # unmatched: harmless
    assert gc_policy.holders() == 0


def test_switched_off_it_neither_freezes_nor_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_policy, "FREEZE_AFTER_START", False)
    thresholds = gc.get_threshold()
    assert gc_policy.freeze() is False
    assert gc.get_freeze_count() == 0 and gc_policy.holders() == 0
    assert gc.get_threshold() == thresholds
    gc_policy.refreeze()
    assert gc.get_freeze_count() == 0


def test_while_frozen_full_collections_are_rarer_and_the_thresholds_come_back() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        gc_policy.freeze()
        assert gc.get_threshold() == (700, 10, gc_policy.FULL_COLLECTION_THRESHOLD)
        gc_policy.freeze()
        gc_policy.thaw()
        assert gc.get_threshold()[2] == gc_policy.FULL_COLLECTION_THRESHOLD
        gc_policy.thaw()
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_a_higher_threshold_set_by_the_user_is_kept() -> None:
    before = gc.get_threshold()
    gc.set_threshold(2000, 20, 500)
    try:
        gc_policy.freeze()
        assert gc.get_threshold() == (2000, 20, 500)
        gc_policy.thaw()
        assert gc.get_threshold() == (2000, 20, 500)
    finally:
        gc.set_threshold(*before)
