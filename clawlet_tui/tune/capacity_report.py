"""What ``capacity`` prints and writes: the curve as it is measured, the verdict, ``--report``.

Plain text for the terminal (one row per rate, as each ends), and the report in the
format the file's extension names:

* ``.md``: the target, the verdict, every step, the curve by rate;
* ``.json``: format ``clawlet-tui-capacity``, version 1; rates in req/s, latencies in ms,
  success as a fraction 0..1; every step with its window figures;
* ``.html``: the curve rate -> P50 / P99 with the SLO line, and every step (:mod:`.capacity_html`);
* ``.csv``: one row per step (``number, role, rate_rps, offered_rps, throughput_rps,
  p50_ms, p99_ms, success, backlog, passed, failure, stable, windows``).

Every figure is one measured in the session.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .capacity import RateStep
from .capacity_live import CapacityResult, RateMeasurement
from .report import accounting_dict, write_session_report

FORMAT_NAME = "clawlet-tui-capacity"
FORMAT_VERSION = 1

_COLUMNS = (("#", 3), ("role", 7), ("rate req/s", 10), ("sent req/s", 10), ("thr req/s", 10), ("P50 ms", 8), ("P99 ms", 8), ("ok %", 7))


def table_header() -> str:
    head = " ".join(f"{name:>{width}}" if i != 1 else f"{name:<{width}}" for i, (name, width) in enumerate(_COLUMNS))
    return f"{head}  result"


def _offered(step: RateStep) -> float:
    m = step.measured
    return m.offered_rps if isinstance(m, RateMeasurement) else step.rate_rps


def _p50(step: RateStep) -> float:
    return float(getattr(step.measured, "p50_ms", 0.0))


def table_row(step: RateStep) -> str:
    m = step.measured
    cells = (
        f"{step.number:>3}",
        f"{step.role:<7}",
        f"{step.rate_rps:>10g}",
        f"{_offered(step):>10.1f}",
        f"{m.throughput_rps:>10.1f}",
        f"{_p50(step):>8.2f}",
        f"{m.p99_ms:>8.2f}",
        f"{m.success * 100:>7.2f}",
    )
    return " ".join(cells) + "  " + ("pass" if step.passed else f"FAIL: {step.failure}")


def verdict(result: CapacityResult) -> str:
    """One sentence: the capacity and what bounds it, or why there is none."""
    s = result.search
    cap, failed = s.capacity_rps, s.failed_rps
    if cap is None:
        lowest = min((st for st in s.steps), key=lambda st: st.measured.p99_ms, default=None)
        reached = f"; the best P99 reached was {lowest.measured.p99_ms:.2f} ms at {lowest.rate_rps:g} req/s" if lowest else ""
        why = {"none": "down to the 1 req/s floor", "interrupted": "before the interruption", "budget": "within the budget"}.get(s.ended, "")
        return f"No rate was sustained {why} ({result.target.describe()}){reached}."
    step = result.capacity_step
    assert step is not None
    figures = (
        f"P50 {_p50(step):.2f} ms, P99 {step.measured.p99_ms:.2f} ms, success {step.measured.success * 100:.2f}%, "
        f"{'measured twice, passed both' if s.confirmed else 'measured once'}"
    )
    if failed is not None and s.ended == "converged":
        bound = f"{failed:g} req/s failed ({failed / cap - 1:.1%} above; resolution {result.resolution:.0%})"
        return f"Capacity: {cap:g} req/s ({figures}); {bound}."
    if failed is not None:
        return f"Capacity: {cap:g} req/s so far ({figures}); {failed:g} req/s failed; search ended: {s.ended}, not yet within {result.resolution:.0%}."
    if s.ended == "max-rps":
        return f"Capacity: at least {cap:g} req/s, the --max-rps cap ({figures})."
    return f"Capacity: at least {cap:g} req/s ({figures}); no rate failed before the search ended ({s.ended})."


def summary_lines(result: CapacityResult) -> list[str]:
    lines = ["", "Curve (rate -> P50 / P99, success; the last measurement of each rate):"]
    by_rate: dict[float, RateStep] = {}
    for step in result.search.steps:
        by_rate[step.rate_rps] = step
    for rate in sorted(by_rate):
        step = by_rate[rate]
        lines.append(
            f"  {rate:>9g} req/s -> {_p50(step):8.2f} / {step.measured.p99_ms:8.2f} ms, "
            f"{step.measured.success * 100:6.2f}%  {'pass' if step.passed else 'FAIL'}"
        )
    lines += ["", verdict(result)]
    lines.append(
        f"{len(result.search.steps)} steps in {result.wall_s:.0f} s; requests: {result.sent} sent, "
        f"{result.completed} succeeded, {result.failed} failed"
        + ("" if result.accounted else "  ACCOUNTING MISMATCH")
    )
    return lines


#: the engine fields the report names (those ``tune`` moves)
CONFIG_FIELDS = ("batch_size", "batch_timeout_s", "batch_policy", "max_concurrent", "l1_cache_size")


def config_dict(result: CapacityResult) -> dict[str, Any]:
    return {name: getattr(result.config, name) for name in CONFIG_FIELDS}


def describe_config(config: Any) -> str:
    return " ".join(f"{name}={getattr(config, name):g}" if isinstance(getattr(config, name), float)
                    else f"{name}={getattr(config, name)}" for name in CONFIG_FIELDS)


def step_dict(step: RateStep) -> dict[str, Any]:
    m = step.measured
    d: dict[str, Any] = {
        "number": step.number,
        "role": step.role,
        "rate_rps": step.rate_rps,
        "offered_rps": round(_offered(step), 3),
        "throughput_rps": round(m.throughput_rps, 3),
        "p50_ms": round(_p50(step), 4),
        "p99_ms": round(m.p99_ms, 4),
        "success": m.success,
        "backlog": m.backlog,
        "passed": step.passed,
        "failure": step.failure or None,
        "ended_at_s": round(step.ended_at_s, 3),
    }
    if isinstance(m, RateMeasurement):
        d["stable"] = m.measurement.stable
        d["window_figures"] = [
            {"duration_s": round(w.duration_s, 4), "submitted": w.submitted, "throughput_rps": round(w.throughput_rps, 3),
             "p99_ms": round(w.p99_ms, 4), "succeeded": w.succeeded, "errors": w.errors}
            for w in m.measurement.windows
        ]
    return d


def result_dict(result: CapacityResult) -> dict[str, Any]:
    s = result.search
    step = result.capacity_step
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "preset": result.preset.name,
        "load": result.load_description,
        "model": result.model_description,
        "config": config_dict(result),
        "target": {"slo_p99_ms": result.target.slo_p99_ms, "min_success": result.target.min_success, "text": result.target.describe()},
        "resolution": result.resolution,
        "measurement": {
            "warmup_s": result.settings.warmup_s,
            "window_s": result.settings.window_s,
            "min_windows": result.settings.min_windows,
            "max_windows": result.settings.max_windows,
            "stability_tolerance": result.settings.tolerance,
        },
        "capacity_rps": s.capacity_rps,
        "failed_rps": s.failed_rps,
        "confirmed": s.confirmed,
        "ended": s.ended,
        "at_capacity": None if step is None else step_dict(step),
        "verdict": verdict(result),
        "wall_s": round(result.wall_s, 3),
        "interrupted": result.interrupted,
        "steps": [step_dict(st) for st in s.steps],
        "accounting": accounting_dict(result),
    }


def render_json(result: CapacityResult) -> str:
    return json.dumps(result_dict(result), indent=2) + "\n"


def render_csv(result: CapacityResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = ["number", "role", "rate_rps", "offered_rps", "throughput_rps", "p50_ms", "p99_ms", "success", "backlog", "passed", "failure", "stable", "windows"]
    writer.writerow(fields)
    for st in result.search.steps:
        d = step_dict(st)
        d["windows"] = len(d.get("window_figures", []))
        writer.writerow(["" if d.get(f) is None else str(d[f]).lower() if isinstance(d[f], bool) else d[f] for f in fields])
    return out.getvalue()


def render_markdown(result: CapacityResult) -> str:
    r = result
    lines = [
        f"# Capacity report: {r.preset.name}",
        "",
        f"- Config: {describe_config(r.config)}",
        f"- Target: {r.target.describe()}; resolution {r.resolution:.0%}",
        f"- Load: {r.load_description}",
        f"- Model: {r.model_description}",
        f"- Steps: {r.settings.warmup_s:g} s warm-up, then {r.settings.window_s:g} s windows until 3 agree within "
        f"{r.settings.tolerance * 100:g}% (at most {r.settings.max_windows}; a rate with two violating windows ends early)",
        f"- Took {r.wall_s:.1f} s for {len(r.search.steps)} steps (search {r.search.ended})",
        f"- Requests: {r.sent} sent, {r.completed} succeeded, {r.failed} failed; "
        f"every one ended in one outcome: {'yes' if r.accounted else 'NO'}",
        "",
        verdict(r),
        "",
        "| # | role | rate (req/s) | sent (req/s) | throughput (req/s) | P50 (ms) | P99 (ms) | success | result |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for st in r.search.steps:
        m = st.measured
        lines.append(
            f"| {st.number} | {st.role} | {st.rate_rps:g} | {_offered(st):.1f} | {m.throughput_rps:.1f} | {_p50(st):.2f} | "
            f"{m.p99_ms:.2f} | {m.success * 100:.2f}% | {'pass' if st.passed else 'fail: ' + st.failure} |"
        )
    return "\n".join(lines) + "\n"


def save_capacity_report(path: str | Path, result: CapacityResult) -> Path:
    def html(r: CapacityResult) -> str:
        from .capacity_html import render_html  # it imports this module

        return render_html(r)

    return write_session_report(path, result, {"markdown": render_markdown, "json": render_json, "csv": render_csv, "html": html})
