"""The ``--report`` file of a tuning session, with every trial: Markdown, JSON or CSV by extension.

* ``.md``: the objective, the chosen config against the start, every trial, the front;
* ``.json``: the same, for scripts (``format`` ``clawlet-tui-tune``, ``version`` 1);
  latencies in ms, throughput in req/s, success as a fraction 0..1;
* ``.csv``: one row per trial (``number, role, <each tuned field>, throughput_rps,
  p50_ms, p99_ms, success, meets_slo, stable, windows, on_front, chosen``);
* ``.html``: the trials as a throughput / P99 scatter with the SLO line and the front
  (:mod:`.html`, plotly: the ``report`` extra).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..report import format_for_path
from .output import KEPT_START, config_changes, front, improvement, trial_numbers_on_front
from .space import describe_point
from .tuner import Trial, TuneResult

R = TypeVar("R")

FORMAT_NAME = "clawlet-tui-tune"
FORMAT_VERSION = 1


def save_tune_report(path: str | Path, result: TuneResult) -> Path:
    """Write the report in the format ``path``'s extension names (ConfigError for another)."""

    def html(r: TuneResult) -> str:
        from .html import render_html

        return render_html(r)

    return write_session_report(path, result, {"markdown": render_markdown, "json": render_json, "csv": render_csv, "html": html})


def write_session_report(path: str | Path, result: R, renderers: Mapping[str, Callable[[R], str]]) -> Path:
    """Write ``result`` with the renderer for the format ``path``'s extension names
    (``tune`` and ``capacity`` reports; ConfigError for an unknown extension)."""
    path = Path(path)
    path.write_text(renderers[format_for_path(path)](result), encoding="utf-8")
    return path


def _chosen_numbers(result: TuneResult) -> set[int]:
    return {t.number for t in result.trials if t.point == result.best_point}


def trial_dict(trial: Trial) -> dict[str, Any]:
    m = trial.measurement
    return {
        "number": trial.number,
        "role": trial.role,
        "config": dict(trial.point),
        "throughput_rps": round(m.throughput_rps, 3),
        "p50_ms": round(m.p50_ms, 4),
        "p99_ms": round(m.p99_ms, 4),
        "success": m.success,
        "meets_slo": trial.meets_slo,
        "stable": m.stable,
        "cut": m.cut,
        "windows": len(m.windows),
        "errors": m.errors,
        "ended_at_s": round(trial.ended_at_s, 3),
        "window_figures": [
            {
                "duration_s": round(w.duration_s, 4),
                "throughput_rps": round(w.throughput_rps, 3),
                "p99_ms": round(w.p99_ms, 4),
                "succeeded": w.succeeded,
                "errors": w.errors,
            }
            for w in m.windows
        ],
    }


def result_dict(result: TuneResult) -> dict[str, Any]:
    def estimate(e: Any) -> dict[str, Any] | None:
        if e is None:
            return None
        return {"throughput_rps": round(e.throughput_rps, 3), "p99_ms": round(e.p99_ms, 4), "success": e.success, "measurements": e.count}

    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "preset": result.preset.name,
        "load": result.load_description,
        "model": result.model_description,
        "objective": {"goal": result.objective.goal, "slo_p99_ms": result.objective.slo_p99_ms, "text": result.objective.describe()},
        "params": list(result.params),
        "budget_s": result.budget_s,
        "wall_s": round(result.wall_s, 3),
        "interrupted": result.interrupted,
        "measurement": {
            "warmup_s": result.settings.warmup_s,
            "window_s": result.settings.window_s,
            "min_windows": result.settings.min_windows,
            "max_windows": result.settings.max_windows,
            "stability_tolerance": result.settings.tolerance,
        },
        "search": {"method": result.method, "ended": result.search.ended, "confirmed": result.search.confirmed, "trials": result.search.trials},
        "start": {"config": dict(result.start_point), "estimate": estimate(result.start_estimate)},
        "chosen": None
        if result.best_point is None
        else {"config": dict(result.best_point), "estimate": estimate(result.best_estimate), "improvement": improvement(result)},
        "pareto_front": [{"config": dict(fp.point), **(estimate(fp.estimate) or {})} for fp in front(result)],
        "trials": [trial_dict(t) for t in result.trials],
        "accounting": accounting_dict(result),
    }


def accounting_dict(result: Any) -> dict[str, Any]:
    """A session's request accounting (``tune`` and ``capacity``): every request sent is
    completed or failed, and counted in exactly one measurement period."""
    return {
        "sent": result.sent,
        "completed": result.completed,
        "failed": result.failed,
        "finished_in_periods": result.finished_in_periods,
        "ok": result.accounted,
    }


def render_json(result: TuneResult) -> str:
    return json.dumps(result_dict(result), indent=2) + "\n"


def render_csv(result: TuneResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    on_front, chosen = trial_numbers_on_front(result), _chosen_numbers(result)
    writer.writerow(
        ["number", "role", *result.params, "throughput_rps", "p50_ms", "p99_ms", "success", "meets_slo", "stable", "windows", "on_front", "chosen"]
    )
    for t in result.trials:
        m = t.measurement
        writer.writerow(
            [
                t.number,
                t.role,
                *(dict(t.point)[name] for name in result.params),
                round(m.throughput_rps, 3),
                round(m.p50_ms, 4),
                round(m.p99_ms, 4),
                round(m.success, 6),
                str(t.meets_slo).lower(),
                str(m.stable).lower(),
                len(m.windows),
                str(t.number in on_front).lower(),
                str(t.number in chosen).lower(),
            ]
        )
    return out.getvalue()


def render_markdown(result: TuneResult) -> str:
    r = result
    lines = [
        f"# Tuning report: {r.preset.name}",
        "",
        f"- Objective: {r.objective.describe()}",
        f"- Load: {r.load_description}",
        f"- Model: {r.model_description}",
        f"- Params: {', '.join(r.params)}",
        f"- Budget: {r.budget_s:g} s; took {r.wall_s:.1f} s for {len(r.trials)} trials (search {r.search.ended})",
        f"- Trials: {r.settings.warmup_s:g} s warm-up, then {r.settings.window_s:g} s windows until 3 agree within "
        f"{r.settings.tolerance * 100:g}% in throughput and P99 (at most {r.settings.max_windows})",
        f"- Requests: {r.sent} sent, {r.completed} succeeded, {r.failed} failed; "
        f"every one ended in one outcome: {'yes' if r.accounted else 'NO'}",
        "",
        "## Chosen config",
        "",
    ]
    if r.best_point is None:
        lowest = min((e.p99_ms for _, e in r.search.estimates), default=0.0)
        lines += [f"No config met the SLO; the lowest P99 reached was {lowest:.2f} ms.", ""]
    else:
        best = r.best_estimate
        assert best is not None
        lines += ["| field | start | chosen |", "| --- | --- | --- |"]
        lines += [f"| `{name}` | {before} | {after} |" for name, before, after in config_changes(r)]
        if r.kept_start:
            verdict = f"{KEPT_START}."
        else:
            again = ", the start config measured again after the search" if r.start_again is not None else ""
            verdict = (
                f"Against the start config, measured in the same run: {improvement(r)} "
                f"({best.count} measurement(s) of the chosen config, "
                f"{'re-measured' if r.search.confirmed else 'not re-measured'}{again})."
            )
        lines += ["", verdict, ""]
    lines += [
        "## Trials",
        "",
        "| # | role | config | throughput (req/s) | P50 (ms) | P99 (ms) | success | SLO met | windows |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for t in r.trials:
        m = t.measurement
        lines.append(
            f"| {t.number} | {t.role} | {describe_point(t.point)} | {m.throughput_rps:.1f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | "
            f"{m.success * 100:.1f}% | {'yes' if t.meets_slo else 'no'} | {len(m.windows)} {'stable' if m.stable else 'cut' if m.cut else 'unstable'} |"
        )
    lines += ["", "## Pareto front (throughput vs P99)", "", "| throughput (req/s) | P99 (ms) | config |", "| ---: | ---: | --- |"]
    for fp in front(r):
        mark = " (chosen)" if fp.point == r.best_point else ""
        lines.append(f"| {fp.estimate.throughput_rps:.1f} | {fp.estimate.p99_ms:.2f} | {describe_point(fp.point)}{mark} |")
    return "\n".join(lines) + "\n"
