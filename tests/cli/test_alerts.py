"""Alerts in ``run`` and ``compare``: printed as they happen, listed in every report format,
``--fail-on-alert`` exit codes, and one-line errors for bad rules.  Real engine, real load.

The rules are chosen so the outcome does not depend on the machine's speed: ``p50_ms > 0``
fires on the first measured request, ``p99_ms > 1e6 ms`` (over 16 minutes) never does.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from clawlet_tui import cli

pytest.importorskip("clawlet_tui.engine.engine")

PRESET = """\
name = "{name}"
description = "test preset: latency model, 100 req/s for 0.5 s"
[load]
mode = "open"
shape = "constant"
rate_rps = 100
duration_s = 0.5
[model]
kind = "latency"
fixed_ms = 1.0
{alerts}
"""

ALWAYS = '[[alerts]]\nmetric = "p50_ms"\nabove = 0\n'
NEVER = '[[alerts]]\nmetric = "p99_ms"\nabove = 1e6\n'


def _preset(tmp_path: Path, name: str, alerts: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(PRESET.format(name=name, alerts=alerts), encoding="utf-8")
    return path


def test_fail_on_alert_exits_3_when_an_alert_fired(capsys, tmp_path):
    preset = _preset(tmp_path, "fires", ALWAYS)
    report = tmp_path / "r.json"
    code = cli.main(["run", str(preset), "--fail-on-alert", "--report", str(report)])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_ALERT == 3
    assert "clawlet-tui: alert " in err and "FIRING   p50_ms > 0 ms: " in err
    assert err.rstrip().splitlines()[-1].startswith(
        "clawlet-tui: error: 1 alert fired in the optimized run (--fail-on-alert): p50_ms > 0 ms"
    )
    assert "## Alerts" in out and "| `p50_ms > 0 ms` (alerts[1]) |" in out
    run = json.loads(report.read_text(encoding="utf-8"))["runs"][0]
    (alert,) = run["alerts"]
    assert alert["rule"]["metric"] == "p50_ms" and alert["rule"]["origin"] == "alerts[1]"
    assert alert["fired_value"] > 0 and alert["peak"] >= alert["fired_value"]
    assert 0 <= alert["fired_at_s"] <= run["sections"]["monitor"]["metrics"]["uptime"]["value"]
    assert run["sections"]["summary"]["metrics"]["alerts_fired"]["value"] == 1


def test_without_the_flag_a_fired_alert_is_reported_not_failed(capsys, tmp_path):
    preset = _preset(tmp_path, "fires", ALWAYS)
    report = tmp_path / "r.csv"
    assert cli.main(["run", str(preset), "--report", str(report)]) == 0
    rows = {(r["section"], r["metric"]): r for r in csv.DictReader(io.StringIO(report.read_text(encoding="utf-8")))}
    assert rows[("alerts", "1.rule")]["value"] == "p50_ms > 0 ms"
    assert float(rows[("alerts", "1.fired_at")]["value"]) >= 0 and rows[("alerts", "1.fired_at")]["unit"] == "s"
    assert float(rows[("alerts", "1.peak")]["value"]) > 0


def test_fail_on_alert_exits_0_when_none_fired(capsys, tmp_path):
    preset = _preset(tmp_path, "quiet", NEVER)
    code = cli.main(["run", str(preset), "--fail-on-alert"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "alert" not in err
    assert "No alert fired. Rules judged on the monitor's window: `p99_ms > 1e+06 ms`." in out


def test_compare_fails_on_an_alert_of_either_run(capsys, tmp_path):
    preset = _preset(tmp_path, "fires", ALWAYS)
    code = cli.main(["compare", str(preset), "--fail-on-alert"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "baseline alert " in err and "optimized alert " in err
    assert "2 alerts fired in the baseline and optimized run" in err
    assert "| Run | Rule |" in out


def test_slo_is_an_alert_like_any_other(capsys, tmp_path):
    path = tmp_path / "slo.toml"
    path.write_text(PRESET.format(name="slo", alerts="").replace("[load]", "slo_p99_ms = 0.001\n[load]"), encoding="utf-8")
    code = cli.main(["run", str(path), "--fail-on-alert"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "| `p99_ms > 0.001 ms` (slo_p99_ms) |" in out
    assert "| P99 objective met | no |" in out  # the whole-run verdict reports read is unchanged


def test_a_bad_rule_is_one_line_and_exit_2(capsys, tmp_path):
    preset = _preset(tmp_path, "bad", '[[alerts]]\nmetric = "p99_ms"\nabove = 5\nfor = 3\n')
    code = cli.main(["run", str(preset), "--fail-on-alert"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"clawlet-tui: error: {preset}: alerts[1].for: unknown field (did you mean 'for_s'?)\n"
