"""How busy the machine was while a bench row ran: shared by the benches that report it.

A 1-minute load average counts the bench's own threads too, so a row also reports the
cores that *other* processes kept busy: the machine's busy CPU time (``/proc/stat``) minus
the bench's own, over the row's wall time.  Near 0 means the row ran on a quiet machine.
"""

from __future__ import annotations

import os


def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in stat.readline().split()[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
