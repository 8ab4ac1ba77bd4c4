"""Headless reports: the seed report's tables, filled with measured figures.

:mod:`.model` computes a plain :class:`Report` from :class:`~clawlet_tui.runner.RunResult`
objects; :mod:`.markdown`, :mod:`.jsonfmt` and :mod:`.csvfmt` render it; :mod:`.labels`
holds every word in English and Chinese; :mod:`.html` draws the charts (plotly, the
``report`` extra, imported only for ``.html``).  The format of a file is chosen by its
extension (``.md``, ``.json``, ``.csv``, ``.html``); a CSV report has its timeline in a
second file beside it (:func:`report_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.alerts import AlertState
from ..engine.errors import ConfigError
from ..engine.snapshot import MetricsSnapshot
from .csvfmt import render_csv, render_timeline_csv, timeline_csv_path
from .jsonfmt import render_json, report_to_dict
from .labels import LANGS, Labels, check_lang
from .markdown import render_markdown
from .model import Report, build_compare_report, build_run_report

#: file extension -> format name
FORMATS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv", ".html": "html"}

__all__ = [
    "FORMATS",
    "LANGS",
    "Labels",
    "Report",
    "build_compare_report",
    "build_run_report",
    "format_for_path",
    "render",
    "render_csv",
    "render_json",
    "render_markdown",
    "report_files",
    "report_to_dict",
    "save_report",
    "write_report",
]


def format_for_path(path: str | Path) -> str:
    """The format a report file gets from its extension; ConfigError for any other, and for
    ``.html`` when plotly (the ``report`` extra) is missing, so a run is refused before it starts."""
    suffix = Path(path).suffix.lower()
    try:
        fmt = FORMATS[suffix]
    except KeyError:
        raise ConfigError(
            f"report file must end in .md, .json, .csv or .html, got {str(path)!r}", field="report"
        ) from None
    if fmt == "html":
        from .html import require_plotly

        require_plotly()
    return fmt


def render(report: Report, fmt: str = "markdown", lang: str = "en") -> str:
    check_lang(lang)
    if fmt == "markdown":
        return render_markdown(report, lang, detail="full")
    if fmt == "json":
        return render_json(report, lang)
    if fmt == "csv":
        return render_csv(report, lang)
    if fmt == "html":
        from .html import render_html

        return render_html(report, lang)
    raise ConfigError(f"report format must be markdown, json, csv or html, got {fmt!r}", field="report")


def save_report(path: str | Path, report: Report, lang: str = "en") -> Path:
    """Write ``report`` to ``path`` in the format its extension names; returns the path.

    A CSV report also writes its timeline to :func:`report_files`' second file."""
    path = Path(path)
    fmt = format_for_path(path)
    text = render(report, fmt, lang)
    path.write_text(text, encoding="utf-8")
    if fmt == "csv":
        timeline_csv_path(path).write_text(render_timeline_csv(report), encoding="utf-8")
    return path


def report_files(path: str | Path) -> tuple[Path, ...]:
    """Every file :func:`save_report` writes for ``path``: the report, and for CSV its timeline."""
    path = Path(path)
    return (path, timeline_csv_path(path)) if format_for_path(path) == "csv" else (path,)


def write_report(
    path: str | Path,
    snapshot: MetricsSnapshot,
    load_stats: Any,
    preset: Any,
    lang: str = "en",
    alerts: AlertState | None = None,
) -> Path:
    """The dashboard's export: a report of the live engine's current ``snapshot`` (and of the
    ``alerts`` the dashboard judged).

    ``preset`` is a ``Preset`` (or just its name).  Raises ConfigError for an unknown
    extension or language, OSError if the file cannot be written.
    """
    from ..runner import result_from_snapshot

    format_for_path(path)
    check_lang(lang)
    rules, events = (alerts.rules, alerts.events) if alerts is not None else ((), ())
    result = result_from_snapshot(snapshot, load_stats, preset, alert_rules=rules, alerts=events)
    return save_report(path, build_run_report(result), lang)
