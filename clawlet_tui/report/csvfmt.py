"""CSV rendering of a :class:`~.model.Report`: one figure a row, ``section,metric,value,unit``.

Metric ids and section keys are the language-independent ones of the JSON format.  In
a comparison the sections of each run are prefixed with its mode (``baseline.summary``,
``optimized.batcher``) and the before/after table is section ``comparison`` with
metrics ``<key>.before``, ``<key>.after``, ``<key>.ratio`` and ``<key>.change``.
Booleans are ``true``/``false``, a missing value is empty, a histogram is
``size:count`` pairs separated by spaces.  Each alert that fired is section ``alerts``
(``<mode>.alerts`` in a comparison), metrics ``<n>.rule``, ``<n>.fired_at``,
``<n>.resolved_at`` (empty: still firing at the end), ``<n>.fired_value`` and ``<n>.peak``,
numbered from 1 in firing order.

The timeline goes in a file of its own beside the report (``out.csv`` ->
``out-timeline.csv``, :func:`timeline_csv_path`), one row per second and run, so that
``pandas.read_csv`` gets typed columns at once: ``mode`` (``optimized``, ``baseline``),
then :data:`~clawlet_tui.timeline.TIMELINE_FIELDS` (``t_s`` engine uptime at the end of the
second, latencies in ms, ``hit_rate`` a fraction 0-1, empty when the cache had no lookup,
``rss_bytes`` in bytes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ..timeline import TIMELINE_FIELDS
from .model import Report, Value

HEADER = ("section", "metric", "value", "unit")


def report_rows(report: Report) -> Iterator[tuple[str, str, str, str]]:
    if report.kind == "compare":
        for pair in report.comparison:
            yield "comparison", f"{pair.key}.before", csv_value(pair.before), pair.unit
            yield "comparison", f"{pair.key}.after", csv_value(pair.after), pair.unit
            yield "comparison", f"{pair.key}.ratio", csv_value(pair.ratio), ""
            yield "comparison", f"{pair.key}.change", pair.change, ""
    for run in report.runs:
        prefix = f"{run.mode}." if report.kind == "compare" else ""
        for section in run.sections:
            for row in section.rows:
                yield f"{prefix}{section.key}", row.metric, csv_value(row.value), row.unit
        for number, event in enumerate(run.alerts, start=1):
            unit = event.rule.unit
            yield f"{prefix}alerts", f"{number}.rule", event.rule.describe(), ""
            yield f"{prefix}alerts", f"{number}.fired_at", csv_value(event.fired_at_s), "s"
            yield f"{prefix}alerts", f"{number}.resolved_at", csv_value(event.resolved_at_s), "s"
            yield f"{prefix}alerts", f"{number}.fired_value", csv_value(event.fired_value), unit
            yield f"{prefix}alerts", f"{number}.peak", csv_value(event.peak), unit


def render_csv(report: Report, lang: str = "en") -> str:
    """``lang`` is accepted for symmetry with the other formats; CSV ids are not translated."""
    del lang
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(report_rows(report))
    return out.getvalue()


def timeline_csv_path(path: str | Path) -> Path:
    """Where the timeline of the CSV report at ``path`` goes: ``out.csv`` -> ``out-timeline.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-timeline{path.suffix}")


def render_timeline_csv(report: Report) -> str:
    """Every run's timeline, long format: ``mode`` then one column per timeline field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("mode", *TIMELINE_FIELDS))
    for run in report.runs:
        for point in run.timeline:
            writer.writerow((run.mode, *(csv_value(getattr(point, name)) for name in TIMELINE_FIELDS)))
    return out.getvalue()


def csv_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return " ".join(f"{size}:{count}" for size, count in value)
    if isinstance(value, float):
        return str(round(value, 6))
    return str(value)
