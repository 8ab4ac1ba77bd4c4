"""SecondHitFilter: which computed values are worth writing to the L2 disk cache.

Why: every L2 write costs CPU on the I/O thread (encoding, a SQLite insert, the
transaction) and some of it holds the GIL, so it competes with the event loop and the
model workers.  A value computed for a key that is never asked for again (a "one-hit
wonder": every key under a unique-key load, most keys of a long-tailed one) pays that
cost for nothing.  Caches in front of the web (Akamai's "cache on second hit", the
doorkeeper of TinyLFU) admit an object only when it is asked for a second time; this is
that rule.  A key is written to L2 the second time it is computed, so a repeating key
loses at most one L2 hit, and a load whose keys never repeat writes nothing.

The filter remembers keys it has seen once in a Bloom filter of fixed size (1 MiB), so
its memory does not grow with the key space.  A false positive admits a one-hit wonder
(a wasted write, never a wrong value); the filter starts afresh once it holds
``capacity`` keys, which bounds that rate (about 5% at capacity with the defaults) and
lets the memory of long-gone keys age out.
"""

from __future__ import annotations

#: bits in the filter: 2**23 bits = 1 MiB
_BITS_LOG2 = 23


class SecondHitFilter:
    """Answers "has this key been seen before?" and remembers it; bounded memory."""

    def __init__(self, capacity: int = 1 << 20, bits_log2: int = _BITS_LOG2) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._mask = (1 << bits_log2) - 1
        self._shift = bits_log2
        self._bits = bytearray(1 << (bits_log2 - 3))
        #: keys remembered since the last reset
        self.remembered = 0
        #: times the filter started afresh because it was full
        self.resets = 0

    def admit(self, key_hash: int) -> bool:
        """True if ``key_hash`` was seen before (since the last reset); remembers it either way."""
        h = key_hash & 0xFFFF_FFFF_FFFF_FFFF
        first = h & self._mask
        second = (h >> self._shift) & self._mask
        bits = self._bits
        seen = bits[first >> 3] & (1 << (first & 7)) and bits[second >> 3] & (1 << (second & 7))
        if seen:
            return True
        if self.remembered >= self.capacity:
            self.clear()
            self.resets += 1
            bits = self._bits
        bits[first >> 3] |= 1 << (first & 7)
        bits[second >> 3] |= 1 << (second & 7)
        self.remembered += 1
        return False

    def clear(self) -> None:
        self._bits = bytearray(len(self._bits))
        self.remembered = 0
