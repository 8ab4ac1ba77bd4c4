"""Readout lines that wrap between whole items, never inside one.

A panel line such as ``P50 0.74 ms  P99 9.41 ms  SLO 50.0 ms over`` is a row of *chunks*.
Left to the terminal's word wrap, a narrow panel splits a chunk and leaves ``over`` alone
on the next line, away from the number it qualifies.  :func:`pack` breaks only between
chunks, so every number stays with its label at every width.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

#: a readout narrower than this (an 80-column terminal's panels have 22-23 cells) uses the
#: shortest wording and one space between items
NARROW_CELLS = 26


def is_narrow(width: int) -> bool:
    """True for a laid-out readout too narrow for the long labels."""
    return 0 < width < NARROW_CELLS


def cell_width(markup: str) -> int:
    """Cells ``markup`` takes on screen (Textual markup such as ``[b]`` takes none)."""
    return Content.from_markup(markup).cell_length


def pack(chunks: Sequence[str], width: int, sep: str | None = None) -> str:
    """``chunks`` (Textual markup) joined by ``sep``, with a line break wherever the next chunk
    would pass ``width`` cells.  ``width <= 0`` (not laid out yet) gives one line.

    ``sep`` defaults to two spaces, one in a narrow readout (every cell counts there)."""
    if sep is None:
        sep = " " if is_narrow(width) else "  "
    chunks = [c for c in chunks if c]
    if width <= 0:
        return sep.join(chunks)
    lines: list[list[str]] = [[]]
    used = 0
    for chunk in chunks:
        size = cell_width(chunk)
        needed = size + (len(sep) if lines[-1] else 0)
        if lines[-1] and used + needed > width:
            lines.append([])
            used, needed = 0, size
        lines[-1].append(chunk)
        used += needed
    return "\n".join(sep.join(line) for line in lines)
