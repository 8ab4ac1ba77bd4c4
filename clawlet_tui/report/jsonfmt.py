"""JSON rendering of a :class:`~.model.Report`: the same figures as the Markdown, for scripts.

Layout (``version`` 1)::

    {"format": "clawlet-tui-report", "version": 1, "kind": "run" | "compare", "lang": "en",
     "runs": [{"preset": ..., "mode": ..., "interrupted": false,
               "sections": {"summary": {"label": "Test results",
                                        "metrics": {"throughput": {"label": ..., "value": 412.3, "unit": "req/s"}}}},
               "alert_rules": [{"metric": "p99_ms", "above": 50.0, "for_s": 5.0, "origin": "alerts[1]",
                                "text": "p99_ms > 50 ms for 5 s", "unit": "ms"}],
               "alerts": [{"rule": <as in alert_rules>, "fired_at_s": 12.3, "fired_value": 61.0,
                           "peak": 80.2, "resolved_at_s": 20.1, "resolved_value": 41.0}]}],
     "comparison": {"throughput": {"label": ..., "unit": "req/s", "before": 9.8, "after": 126.0,
                                   "ratio": 12.86, "change": "12.9x"}}}

Metric and section keys are stable and language-independent; only ``label`` follows
``lang``.  Values are raw numbers in the stated unit (percentages 0-100, bytes, ms);
a batch size histogram is a list of ``[size, count]`` pairs.  Alert times are seconds
since the run started; ``resolved_at_s`` is null for an alert still firing at the end;
rates (``success_rate``, ``error_rate``, ``memory_usage``) are fractions (0.99 = 99%).

Each run also has ``"timeline"``: one list per column of
:data:`~clawlet_tui.timeline.TIMELINE_FIELDS`, one entry per second of the run
(``pandas.DataFrame(run["timeline"])`` reads it as is)::

    "timeline": {"t_s": [1.0, 2.0], "throughput_rps": [412.0, 405.0], "p50_ms": [...],
                 "p99_ms": [...], "mean_ms": [...], "mean_batch_size": [...], "errors": [...],
                 "hit_rate": [0.71, null], "queue_depth": [...], "busy": [...], "rss_bytes": [...]}

``t_s`` is engine uptime at the end of the second, latencies are ms, ``hit_rate`` a
fraction 0-1 (``null``: no cache lookup in that interval), ``rss_bytes`` bytes.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.alerts import AlertEvent, AlertRule
from ..timeline import TIMELINE_FIELDS, Timeline
from .labels import Labels
from .markdown import row_label
from .model import Report, Value

FORMAT_NAME = "clawlet-tui-report"
FORMAT_VERSION = 1


def report_to_dict(report: Report, lang: str = "en") -> dict[str, Any]:
    labels = Labels(lang)
    data: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": report.kind,
        "lang": lang,
        "runs": [
            {
                "preset": run.preset,
                "mode": run.mode,
                "interrupted": run.interrupted,
                "sections": {
                    section.key: {
                        "label": labels.section(section.key),
                        "metrics": {
                            row.metric: {"label": row_label(row, labels), "value": json_value(row.value), "unit": row.unit}
                            for row in section.rows
                        },
                    }
                    for section in run.sections
                },
                "timeline": timeline_to_dict(run.timeline),
                "alert_rules": [rule_to_dict(rule) for rule in run.alert_rules],
                "alerts": [alert_to_dict(event) for event in run.alerts],
            }
            for run in report.runs
        ],
    }
    if report.kind == "compare":
        data["comparison"] = {
            row.key: {
                "label": labels.metric(row.key),
                "unit": row.unit,
                "before": json_value(row.before),
                "after": json_value(row.after),
                "ratio": json_value(row.ratio),
                "change": row.change,
            }
            for row in report.comparison
        }
    return data


def render_json(report: Report, lang: str = "en") -> str:
    return json.dumps(report_to_dict(report, lang), ensure_ascii=False, indent=2) + "\n"


def timeline_to_dict(timeline: Timeline) -> dict[str, list[Any]]:
    """Column-oriented: ``{field: [value per second]}``, floats rounded as elsewhere."""
    return {name: [json_value(v) for v in timeline.column(name)] for name in TIMELINE_FIELDS}


def rule_to_dict(rule: AlertRule) -> dict[str, Any]:
    return {**rule.to_dict(), "for_s": rule.for_s, "origin": rule.origin, "text": rule.describe(), "unit": rule.unit}


def alert_to_dict(event: AlertEvent) -> dict[str, Any]:
    return {
        "rule": rule_to_dict(event.rule),
        "fired_at_s": json_value(event.fired_at_s),
        "fired_value": json_value(event.fired_value),
        "peak": json_value(event.peak),
        "resolved_at_s": json_value(event.resolved_at_s),
        "resolved_value": json_value(event.resolved_value),
    }


def json_value(value: Value) -> Any:
    if isinstance(value, tuple):
        return [list(pair) for pair in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
