"""CLI parsing and error handling that needs no load: argparse, --set, --report checks, progress."""

from __future__ import annotations

import io
import subprocess
import sys
import types

import pytest

from clawlet_tui import __version__, cli
from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.engine.snapshot import BatchStats, CacheStats, LatencyStats, MetricsSnapshot, Outcomes


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0
    assert out.strip() == f"clawlet-tui {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["compare", "--help"], ["presets", "--help"]])
def test_help_everywhere(capsys, argv):
    code, out, _ = run_main(capsys, *argv)
    assert code == 0
    assert out.startswith("usage: clawlet-tui")


def test_run_help_lists_options(capsys):
    _, out, _ = run_main(capsys, "run", "--help")
    for option in ("--preset", "--duration", "--set", "--report", "--lang", "--baseline"):
        assert option in out


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["run"],
        ["compare", "--duration", "1"],
        ["run", "steady", "--preset", "burst"],
        ["run", "--preset", "steady", "--duration", "abc"],
        ["run", "--preset", "steady", "--duration", "0"],
        ["run", "--preset", "steady", "--duration", "-1"],
        ["run", "--preset", "steady", "--duration", "nan"],
        ["run", "--preset", "steady", "--lang", "fr"],
        ["compare", "--preset", "steady", "--baseline"],
        ["run", "--no-such-option"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "http"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert "usage:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--preset", "steady", "--set", "batch_size=eight"], "--set: batch_size must be an integer, got 'eight'"),
        (["run", "--preset", "steady", "--set", "no_such_field=1"], "unknown config field 'no_such_field'"),
        (["compare", "--preset", "steady", "--set", "batch_size"], "expected field=value"),
        (["run", "--preset", "steady", "--report", "out.txt"], "report file must end in .md, .json or .csv"),
        (["run", "--preset", "steady", "--report", "/no/such/dir/r.md"], "report directory '/no/such/dir' does not exist"),
        (["--set", "enable_cache=maybe"], "enable_cache must be true or false"),
        (["serve", "--preset", "steady", "--set", "max_concurrent=0"], "max_concurrent must be >= 1, got 0"),
        (["serve", "--preset", "no-such-preset"], "no-such-preset"),
        (["--theme", "/no/such/dir/mine.toml"], "dir/mine.toml: file: cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("clawlet-tui: error: ")
    assert message in err


def test_parse_overrides_types_values():
    assert cli.parse_overrides(["batch_size=8", "enable_cache=false", "batch_timeout=0.01", "pool_size=none"]) == {
        "batch_size": 8,
        "enable_cache": False,
        "batch_timeout_s": 0.01,
        "pool_size": None,
    }
    with pytest.raises(ConfigError):
        cli.parse_overrides(["max_concurrent=two"])


def test_multiline_error_messages_are_folded(capsys, monkeypatch):
    def broken(args):
        raise ConfigError("first line\nsecond line")

    monkeypatch.setattr(cli, "cmd_presets", broken)
    code, _, err = run_main(capsys, "presets")
    assert (code, err) == (2, "clawlet-tui: error: first line second line\n")


def test_keyboard_interrupt_outside_a_run_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_presets", interrupted)
    code, _, err = run_main(capsys, "presets")
    assert code == 130
    assert "Traceback" not in err


def test_no_arguments_open_the_dashboard(capsys, monkeypatch, tmp_path):
    calls = []
    fake_app = types.ModuleType("clawlet_tui.tui.app")
    fake_app.run_dashboard = lambda **kwargs: calls.append(kwargs) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clawlet_tui.tui.app", fake_app)
    import clawlet_tui.load as load

    presets = types.SimpleNamespace(config=__import__("clawlet_tui.engine.config").engine.config.OptimizationConfig())
    monkeypatch.setattr(load, "load_preset", lambda name: presets, raising=False)
    assert cli.main([]) == 0
    no_backend = {"backend_url": None, "model_name": None}
    assert calls == [{"preset": "steady", "overrides": None, "theme": None, **no_backend}]
    assert cli.main(["--preset", "bursty", "--set", "batch_size=8", "--theme", "dark"]) == 0
    assert calls[-1] == {"preset": "bursty", "overrides": {"batch_size": 8}, "theme": "dark", **no_backend}
    assert cli.main(["--backend", "http://10.0.0.5:8000", "--model-name", "resnet"]) == 0
    assert calls[-1]["backend_url"] == "http://10.0.0.5:8000" and calls[-1]["model_name"] == "resnet"
    # a bad value fails before the UI starts
    assert cli.main(["--set", "batch_size=0"]) == 2
    assert len(calls) == 3
    assert "batch_size must be >= 1, got 0" in capsys.readouterr().err
    # so does a bad theme file
    bad = tmp_path / "mine.toml"
    bad.write_text('name = "mine"\nprimary = "blurple"\n', encoding="utf-8")
    assert cli.main(["--theme", str(bad)]) == 2
    assert len(calls) == 3
    assert capsys.readouterr().err == f"clawlet-tui: error: {tmp_path.name}/mine.toml: primary: not a colour: 'blurple'\n"


def test_headless_commands_never_import_textual():
    code = (
        "import sys\n"
        "from clawlet_tui import cli\n"
        "cli.main(['run', '--preset', 'steady', '--set', 'batch_size=x'])\n"
        "cli.main(['presets', '--help'])\n"
        "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules), 'textual imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "clawlet_tui.cli", "run", "--preset", "steady", "--set", "batch_size=0"],
        capture_output=True, text=True, timeout=60,
    )
    # batch_size=0 parses, then fails validation against the preset: exit 2, one line
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("clawlet-tui: error: ")


# -- progress line --------------------------------------------------------------------------


def _snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        uptime_s=12.4,
        outcomes=Outcomes(submitted=2460, succeeded=2455),
        window_throughput_rps=412.2,
        window_latency=LatencyStats(count=10, mean_ms=4.0, p50_ms=3.14, p90_ms=8.0, p99_ms=9.81, max_ms=12.0),
        batches=BatchStats(window_mean_size=6.24),
        cache=CacheStats(hit_rate=0.414),
    )


def test_format_progress():
    stats = types.SimpleNamespace(elapsed_s=12.3, sent=2460, completed=2455)
    assert cli.format_progress(_snapshot(), stats) == (
        " 12.3s  sent 2460  done 2455  412 req/s  p50 3.1 ms  p99 9.8 ms  batch 6.2  cache 41%"
    )
    # without load stats the snapshot's own counts are used
    assert cli.format_progress(_snapshot(), None).startswith(" 12.4s  sent 2460  done 2455")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_tty():
    stats = types.SimpleNamespace(elapsed_s=1.0, sent=1, completed=1)
    quiet = io.StringIO()
    line = cli.ProgressLine(quiet)
    line.update(_snapshot(), stats)
    line.clear()
    assert quiet.getvalue() == ""

    tty = _Tty()
    line = cli.ProgressLine(tty)
    line.update(_snapshot(), stats)
    line.update(_snapshot(), stats, prefix="baseline")
    assert tty.getvalue().count("\r") == 2
    assert "baseline" in tty.getvalue()
    assert "\n" not in tty.getvalue()
    line.clear()
    assert tty.getvalue().endswith("\r")
