"""How the dashboard writes numbers: bytes, milliseconds, rates, percentages.

One place so every panel says "12.3 ms" and "1.2 GiB" the same way.
"""

from __future__ import annotations


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_ms(ms: float) -> str:
    """Latency with a precision that suits its size: ``0.42 ms``, ``12.3 ms``, ``1.25 s``."""
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_rate(per_s: float) -> str:
    """``1234.5`` -> ``1,234``; small rates keep a decimal."""
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.1f}"


def fmt_pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def fmt_count(n: int) -> str:
    return f"{n:,}"


def fmt_seconds(s: float) -> str:
    """A duration for a config value: ``0.05`` -> ``50 ms``, ``3600`` -> ``3600 s``."""
    if s < 1:
        return f"{s * 1000:g} ms"
    return f"{s:g} s"
