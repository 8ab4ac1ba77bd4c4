"""Keep Python's cyclic garbage collector from pausing the engine behind the dashboard.

The dashboard's process holds, besides the engine, Textual's whole DOM, its style and
render caches, the loaded modules and the model: ~90,000 objects the collector tracks.
A full (generation 2) collection walks all of them while holding the GIL, so every
thread stops, the engine's loop and its model workers included.  Measured on the
``steady`` preset at 160x48 (issue 13): 4 full collections in 15 s, each 60-120 ms, and
the engine loop's longest stall matched the longest collection to the millisecond; the
headless run, which allocates far less, had none.  That was most of the gap between the
dashboard's P99 (38-67 ms) and headless (11-13 ms).

Nearly all of those objects live as long as the process, so after start-up, at a moment
when no load is flowing, :func:`freeze` collects once and moves every survivor to the
collector's permanent generation (``gc.freeze``): later collections skip them.  Full
collections then walk only what was allocated since (measured: 10-30 ms instead of
60-120 ms, the loop's longest stall 10-19 ms instead of 60-110 ms).  Objects that die
are still freed by reference counting; only a reference cycle among frozen objects
would wait until :func:`thaw`.  So the live run thaws, collects and freezes again at
its other quiet point, a preset switch (which may drop a whole engine), and thaws when
it stops.

What is left in the oldest generation is the UI's render churn (Textual's per-strip
caches: ~30,000 objects, mostly alive): with the default third threshold (10) a full
collection ran every ~4 s under the dashboard (6 in 20 s).  While frozen, a full
collection runs only after :data:`FULL_COLLECTION_THRESHOLD` younger (gen 1)
collections instead, about every 40 s at 160x48 (0 in 20 s); cycles among the
UI's objects wait that much longer to be freed.  Headless runs allocate so little that
they are not affected either way.

Where it applies now.  ``clawlet-tui`` runs the engine in a child process
(:mod:`.engine_process`): the dashboard's ~90,000 objects and their collections stay in
the UI process, where a collection only delays a frame, so the UI process does not
freeze.  The child's :class:`LiveRun` still freezes at start (it holds few objects, so
this costs one short collection and saves little).  It is ``clawlet-tui --in-process``,
with the DOM beside the engine, that needs it as described above.

Freezing is process-wide, so it is counted: with two live runs in one process (a
benchmark, tests) the objects stay frozen until the last one stops.
"""

from __future__ import annotations

import gc
import threading

#: freeze the start-up objects while a live run is on (a benchmark turns it off to
#: measure what it is worth: ``bench/dashboard_overhead.py --without-gc-freeze``)
FREEZE_AFTER_START = True

#: while frozen: gen 1 collections between two full ones (``gc.set_threshold``'s third
#: value; Python's default is 10)
FULL_COLLECTION_THRESHOLD = 100

_lock = threading.Lock()
_holders = 0
#: the thresholds before the first freeze, restored by the last thaw
_saved_thresholds: tuple[int, ...] | None = None


def holders() -> int:
    """How many live runs currently keep the start-up objects frozen."""
    return _holders


def freeze() -> bool:
    """Collect, then move every surviving object out of the collector's reach, and make
    full collections rarer (:data:`FULL_COLLECTION_THRESHOLD`).

    Call it at a quiet point (no load flowing: the collection pauses every thread).
    Returns whether it froze (False when :data:`FREEZE_AFTER_START` is off); each True
    must be matched by one :func:`thaw`.
    """
    global _holders, _saved_thresholds
    if not FREEZE_AFTER_START:
        return False
    with _lock:
        if _holders == 0:
            _saved_thresholds = gc.get_threshold()
            young, middle, old = _saved_thresholds
            gc.set_threshold(young, middle, max(old, FULL_COLLECTION_THRESHOLD))
        _holders += 1
        _refreeze()
    return True


def refreeze() -> None:
    """Thaw, collect and freeze again: frees cycles among objects frozen earlier.

    Only while frozen (a no-op otherwise); call it at a quiet point, like :func:`freeze`.
    """
    with _lock:
        if _holders:
            _refreeze()


def thaw() -> None:
    """Release one :func:`freeze`; the last release hands every object back to the collector
    and restores the thresholds."""
    global _holders, _saved_thresholds
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()
            if _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None


def _refreeze() -> None:
    # unfreeze first so a cycle that became garbage among frozen objects is found too;
    # collecting before freezing keeps garbage out of the permanent generation
    gc.unfreeze()
    gc.collect()
    gc.freeze()
