"""Markdown rendering of a :class:`~.model.Report`, laid out like the seed report.

A run report: test results, one table per component, test configuration and the
engine configuration.  A comparison: the before/after table with its change column,
both runs' key figures side by side, the test configuration and the configuration
differences; with ``detail="full"`` (what ``--report FILE.md`` writes) each run's
component tables follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from ..engine.alerts import format_alert_value
from .labels import Labels
from .model import BACKEND_KEYS, COMPONENT_SECTIONS, POLICY_KEYS, Report, Row, RunReport, Value

Detail = Literal["summary", "full"]


def render_markdown(report: Report, lang: str = "en", *, detail: Detail = "full") -> str:
    labels = Labels(lang)
    if report.kind == "compare":
        lines = _compare(report, labels, detail)
    else:
        lines = _run(report.runs[0], labels)
    return "\n".join(lines).rstrip() + "\n"


# -- page layouts ---------------------------------------------------------------------------


def _run(run: RunReport, labels: Labels) -> list[str]:
    lines = [f"# {labels.text('title')}: {run.preset} ({labels.mode(run.mode)})", ""]
    lines += _interrupted_note(run, labels)
    lines += _errors_note(run, labels)
    lines += [f"## {labels.section('summary')}", ""]
    lines += _rows_table(run.section("summary").rows, labels)
    lines += _alerts([run], labels)
    lines += [f"## {labels.section('warmup')}", ""]
    lines += _rows_table(run.section("warmup").rows, labels)
    lines += [f"## {labels.section('components')}", ""]
    lines += _components(run, labels, level="###")
    lines += [f"## {labels.section('configuration')}", ""]
    lines += _rows_table(run.section("configuration").rows, labels)
    lines += [f"### {labels.section('engine_config')}", ""]
    lines += _rows_table(run.section("engine_config").rows, labels, key_header=labels.text("field"))
    return lines


def _compare(report: Report, labels: Labels, detail: Detail) -> list[str]:
    before, after = report.runs
    lines = [f"# {labels.text('compare_title')}: {after.preset}", ""]
    for run in report.runs:
        lines += _interrupted_note(run, labels)
    for run in report.runs:
        lines += _errors_note(run, labels, prefix=f"{labels.mode(run.mode)}: ")
    lines += [f"## {labels.section('comparison')}", ""]
    header = (labels.text("metric"), labels.text("before"), labels.text("after"), labels.text("change"))
    body = [
        (
            labels.metric(row.key),
            format_value(row.before, row.unit, labels),
            format_value(row.after, row.unit, labels),
            row.change,
        )
        for row in report.comparison
    ]
    lines += _table(header, body)

    lines += [f"## {labels.text('key_figures')}", ""]
    lines += _side_by_side(before.section("summary").rows, after.section("summary").rows, labels)
    lines += _alerts(report.runs, labels)
    lines += [f"## {labels.section('warmup')}", ""]
    lines += _side_by_side(before.section("warmup").rows, after.section("warmup").rows, labels)

    # which batch policy each side ran and why its batches left (issue 12: seen in compare)
    lines += [f"## {labels.text('batching')}", ""]
    policy_before = [row for row in before.section("batcher").rows if row.key in POLICY_KEYS]
    policy_after = [row for row in after.section("batcher").rows if row.key in POLICY_KEYS]
    known = {row.metric for row in policy_before}
    policy_before += [Row(row.key, None, row.unit, arg=row.arg) for row in policy_after if row.metric not in known]
    lines += _side_by_side(policy_before, policy_after, labels)

    lines += [f"## {labels.section('configuration')}", ""]
    shared = [row for row in after.section("configuration").rows if row.key not in ("mode", "started_at", "finished_at")]
    lines += _rows_table(shared, labels)
    changed = [
        (b, a)
        for b, a in zip(before.section("engine_config").rows, after.section("engine_config").rows)
        if b.value != a.value and b.arg != "l2_cache_dir"
    ]
    if changed:
        lines += [f"### {labels.text('changed_config')}", ""]
        lines += _table(
        (labels.text("field"), labels.text("before"), labels.text("after")),
            [(f"`{b.arg}`", format_value(b.value, b.unit, labels), format_value(a.value, a.unit, labels)) for b, a in changed],
        )
    if detail == "full":
        for run in report.runs:
            lines += [f"## {labels.section('components')}: {labels.mode(run.mode)}", ""]
            lines += _components(run, labels, level="###")
            lines += [f"### {labels.section('engine_config')}: {labels.mode(run.mode)}", ""]
            lines += _rows_table(run.section("engine_config").rows, labels, key_header=labels.text("field"))
    return lines


def _alerts(runs: Sequence[RunReport], labels: Labels) -> list[str]:
    """Every alert that fired, with its times; or the rules, when none fired.  Nothing
    when the preset has no rules.  Two runs (a comparison) get a column saying which."""
    if not any(run.alert_rules for run in runs):
        return []
    lines = [f"## {labels.section('alerts')}", ""]
    events = [(run, event) for run in runs for event in run.alerts]
    if not events:
        rules = dict.fromkeys(f"`{rule.describe()}`" for run in runs for rule in run.alert_rules)
        return [*lines, f"{labels.text('no_alert_fired')} {', '.join(rules)}.", ""]
    header = [labels.text("alert_rule"), labels.text("fired_at"), labels.text("resolved_at"),
              labels.text("fired_value"), labels.text("peak")]
    if len(runs) > 1:
        header.insert(0, labels.text("run"))
    body = []
    for run, event in events:
        rule, unit = event.rule, event.rule.unit
        origin = f" ({rule.origin})" if rule.origin else ""
        resolved = labels.text("still_firing") if event.resolved_at_s is None else f"{event.resolved_at_s:.1f} s"
        cells = [f"`{rule.describe()}`{origin}", f"{event.fired_at_s:.1f} s", resolved,
                 format_alert_value(event.fired_value, unit), format_alert_value(event.peak, unit)]
        body.append([labels.mode(run.mode), *cells] if len(runs) > 1 else cells)
    return [*lines, *_table(header, body), labels.text("alert_times_note"), ""]


def _components(run: RunReport, labels: Labels, *, level: str) -> list[str]:
    lines: list[str] = []
    for number, key in enumerate(COMPONENT_SECTIONS, start=1):
        lines += [f"{level} {number}. {labels.section(key)}", ""]
        rows = run.section(key).rows
        lines += _rows_table([row for row in rows if row.key not in BACKEND_KEYS], labels)
        lines += _servers_table([row for row in rows if row.key in BACKEND_KEYS], labels)
    return lines


def _servers_table(rows: Sequence[Row], labels: Labels) -> list[str]:
    """The per-server rows (``backend_*``, one ``arg`` per server) as one table line per server."""
    if not rows:
        return []
    servers: dict[str, dict[str, Row]] = {}
    for row in rows:
        servers.setdefault(row.arg or "", {})[row.key] = row
    header = (labels.text("server"), *(labels.text(key.replace("backend_", "server_")) for key in BACKEND_KEYS))
    body = [
        (f"`{url}`", *(format_value(by_key[key].value, "", labels) if key in by_key else "-" for key in BACKEND_KEYS))
        for url, by_key in servers.items()
    ]
    return _table(header, body)


def _interrupted_note(run: RunReport, labels: Labels) -> list[str]:
    if not run.interrupted:
        return []
    configuration = run.section("configuration")
    in_flight = configuration.value("in_flight_at_interrupt")
    by = next((row.value for row in configuration if row.key == "interrupt_signal"), None)
    note = "terminated_note" if by == "SIGTERM" else "interrupted_note"
    return [f"> **{labels.text(note).format(in_flight)}**", ""]


def _errors_note(run: RunReport, labels: Labels, *, prefix: str = "") -> list[str]:
    """Each error kind's first message at the top of the page, where a failing model is seen."""
    outcomes = run.section("outcomes")
    firsts = [row for row in outcomes if row.key == "first_error"]
    if not firsts:
        return []
    counts = {row.arg: row.value for row in outcomes if row.key == "errors_by_kind"}
    note = "no_success_note" if outcomes.value("succeeded") == 0 else "errors_note"
    lines = [f"> **{prefix}{labels.text(note)}**", ">"]
    for row in firsts:
        count = counts.get(row.arg)
        times = f" (×{count:,})" if isinstance(count, int) else ""
        lines.append(f"> - `{row.arg}`{times}: {' '.join(str(row.value).split())}")
    return [*lines, ""]


# -- tables ---------------------------------------------------------------------------------


def _rows_table(rows: Iterable[Row], labels: Labels, *, key_header: str | None = None) -> list[str]:
    header = (key_header or labels.text("metric"), labels.text("value"))
    body = [(row_label(row, labels), _row_value(row, labels)) for row in rows]
    return _table(header, body)


def _row_value(row: Row, labels: Labels) -> str:
    if row.key == "mode" and isinstance(row.value, str):
        return labels.mode(row.value)
    return format_value(row.value, row.unit, labels)


def _side_by_side(before: Sequence[Row], after: Sequence[Row], labels: Labels) -> list[str]:
    header = (labels.text("metric"), labels.text("before"), labels.text("after"))
    after_by_metric = {row.metric: row for row in after}
    body = []
    for b in before:
        a = after_by_metric.get(b.metric)
        shown = "-" if a is None else format_value(a.value, a.unit, labels)
        body.append((row_label(b, labels), format_value(b.value, b.unit, labels), shown))
    return _table(header, body)


def row_label(row: Row, labels: Labels) -> str:
    if row.key == "config":
        return f"`{row.arg}`"
    return labels.metric(row.key, row.arg)


def _table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in body]
    lines.append("")
    return lines


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# -- values ---------------------------------------------------------------------------------


def format_value(value: Value, unit: str, labels: Labels) -> str:
    """A value for people: numbers rounded, bytes in KiB/MiB/GiB, booleans as yes/no."""
    if value is None:
        return labels.text("none")
    if isinstance(value, bool):
        return labels.text("yes" if value else "no")
    if isinstance(value, tuple):
        return ", ".join(f"{size}×{count}" for size, count in value) or labels.text("none")
    if isinstance(value, str):
        return value or "-"
    if unit == "B":
        return format_bytes(value)
    if unit == "%":
        return f"{value:.1f}%"
    text = f"{value:,}" if isinstance(value, int) else format_number(value)
    shown = labels.unit(unit)
    return f"{text} {shown}" if shown else text


def format_number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.1f}" if magnitude < 1e6 else f"{value:,.0f}"
    if magnitude >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_bytes(value: float) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
