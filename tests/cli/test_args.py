"""CLI parsing and error handling that needs no load: argparse, --set, --report checks, progress."""

from __future__ import annotations

import io
import re
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


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([], "cmd_dashboard"),
        (["--preset", "burst"], "cmd_dashboard"),
        (["run", "steady"], "cmd_run"),
        (["compare", "--preset", "steady"], "cmd_compare"),
        (["presets"], "cmd_presets"),
        (["serve", "--port", "0"], "cmd_serve"),
    ],
)
def test_each_command_names_its_function(argv, command):
    """Dispatch is ``set_defaults(func=...)`` on each parser, not a chain of ifs."""
    assert cli.build_parser().parse_args(argv).func is getattr(cli, command)


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
    """Usage errors are bad input like any other: one line, exit 2, no usage block."""
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("clawlet-tui")
    assert "usage:" not in err
    assert "Traceback" not in err


def test_negative_duration_is_one_line(capsys):
    code, out, err = run_main(capsys, "run", "--preset", "steady", "--duration", "-1")
    assert (code, out) == (2, "")
    assert err == (
        "clawlet-tui run: error: argument --duration: duration must be a positive number of seconds, "
        "got '-1' (see 'clawlet-tui run --help')\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--preset", "steady", "--set", "batch_size=eight"], "--set: batch_size must be an integer, got 'eight'"),
        (["run", "--preset", "steady", "--set", "no_such_field=1"], "unknown config field 'no_such_field'"),
        (["compare", "--preset", "steady", "--set", "batch_size"], "--set: 'batch_size': expected FIELD=VALUE"),
        (["run", "--preset", "steady", "--report", "out.txt"], "report file must end in .md, .json, .csv or .html"),
        (["run", "--preset", "steady", "--report", "/no/such/dir/r.md"], "report directory '/no/such/dir' does not exist"),
        (["--set", "enable_cache=maybe"], "enable_cache must be true or false"),
        (["serve", "--preset", "steady", "--set", "max_concurrent=0"], "max_concurrent must be >= 1, got 0"),
        (["serve", "--preset", "no-such-preset"], "no-such-preset"),
        (["--theme", "/no/such/dir/mine.toml"], "error: /no/such/dir/mine.toml: file: cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("clawlet-tui: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # did you mean, as preset files say it
        (["run", "steady", "--set", "batchsize=16"],
         "--set: unknown config field 'batchsize' (did you mean 'batch_size'?)"),
        (["--set", "max_concurent=2"], "--set: unknown config field 'max_concurent' (did you mean 'max_concurrent'?)"),
        # a value the config refuses keeps its --set: prefix (it used to lose it)
        (["run", "steady", "--set", "batch_size=0"], "--set: batch_size must be >= 1, got 0"),
        (["--set", "batch_size=0"], "--set: batch_size must be >= 1, got 0"),
        (["serve", "--set", "max_concurrent=0"], "--set: max_concurrent must be >= 1, got 0"),
        # no '=': the prefix once, not twice
        (["run", "steady", "--set", "batch_size"], "--set: 'batch_size': expected FIELD=VALUE, e.g. batch_size=16"),
    ],
)
def test_set_errors_say_set_once_and_suggest(capsys, argv, expected):
    code, out, err = run_main(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"clawlet-tui: error: {expected}\n"
    assert err.count("--set") == 1


def test_theme_errors_name_the_path_as_given(capsys, tmp_path, monkeypatch):
    """A missing absolute path is named whole, not cut to its last two parts."""
    code, _, err = run_main(capsys, "--theme", "/a/b/nothere.toml")
    assert (code, err) == (2, "clawlet-tui: error: /a/b/nothere.toml: file: cannot read: No such file or directory\n")
    # and so is a malformed file, absolute or relative
    (tmp_path / "deep").mkdir()
    bad = tmp_path / "deep" / "x.toml"
    bad.write_text('name = "x"\nprimary = "blurple"\n', encoding="utf-8")
    code, _, err = run_main(capsys, "--theme", str(bad))
    assert (code, err) == (2, f"clawlet-tui: error: {bad}: primary: not a colour: 'blurple'\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, "--theme", "deep/x.toml")
    assert err == "clawlet-tui: error: deep/x.toml: primary: not a colour: 'blurple'\n"


def test_configuration_md_states_what_a_broken_theme_file_does(capsys, tmp_path):
    """The doc's --theme example is what the command prints, and it says exit code 2 (it used to say
    a broken theme never stops the dashboard, while --theme bad.toml exits 2)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    theme_part = doc[doc.index("## Theme files"):]
    example = "clawlet-tui: error: /home/me/x.toml: primary: not a colour: 'blurple'"
    assert f"`{example}`" in " ".join(theme_part.split())
    assert "exit code 2" in theme_part and "`--theme PATH` is checked before the screen opens" in theme_part
    bad = tmp_path / "x.toml"
    bad.write_text('name = "x"\nprimary = "blurple"\n', encoding="utf-8")
    code, _, err = run_main(capsys, "--theme", str(bad))
    assert code == 2 and err.strip() == example.replace("/home/me", str(tmp_path))


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_backend_is_exit_1_one_line_everywhere(capsys, monkeypatch):
    """The documented rule: nothing answers at --backend -> exit 1 before any load (the dashboard too)."""
    url = f"http://127.0.0.1:{_closed_port()}"
    fake_app = types.ModuleType("clawlet_tui.tui.app")
    fake_app.run_dashboard = lambda **kwargs: pytest.fail("the dashboard opened")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clawlet_tui.tui.app", fake_app)
    for argv in (["run", "steady", "--duration", "1", "--backend", url], ["--backend", url]):
        code, out, err = run_main(capsys, *argv)
        assert (code, out) == (1, ""), err
        assert err.startswith(f"clawlet-tui: error: cannot reach {url}/v2/health/ready") and err.count("\n") == 1
    # a URL that is not one is bad input
    code, _, err = run_main(capsys, "run", "steady", "--duration", "1", "--backend", "127.0.0.1:8000")
    assert code == 2 and "must start with http:// or https://" in err


def test_readme_documents_the_exit_codes():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+(?: / \d+)?) \| (.+) \|$", readme, re.M))
    assert "`--backend` that cannot be reached" in rows["1"]
    assert "bad input" in rows["2"]
    assert "no request succeeded" in rows["3"]
    assert "130 / 143" in rows
    assert (cli.EXIT_NO_SUCCESS, cli.EXIT_INTERRUPTED, cli.EXIT_TERMINATED) == (3, 130, 143)


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
    monkeypatch.setattr(cli, "check_backend", lambda url, name: None)
    assert cli.main([]) == 0
    no_backend = {"backend_url": None, "model_name": None, "in_process": False, "on_snapshot": None,
                  "preset_object": None}
    for call in calls:
        assert callable(call.pop("on_app"))  # the SIGTERM hook
    assert calls == [{"preset": "steady", "overrides": None, "theme": None, **no_backend}]
    assert cli.main(["--preset", "bursty", "--set", "batch_size=8", "--theme", "dark"]) == 0
    calls[-1].pop("on_app")
    assert calls[-1] == {"preset": "bursty", "overrides": {"batch_size": 8}, "theme": "dark", **no_backend}
    assert cli.main(["--backend", "http://10.0.0.5:8000", "--model-name", "resnet"]) == 0
    assert calls[-1]["backend_url"] == ["http://10.0.0.5:8000"] and calls[-1]["model_name"] == "resnet"
    # --backend repeats: several replicas of the model
    assert cli.main(["--backend", "http://10.0.0.5:8000", "--backend", "http://10.0.0.6:8000"]) == 0
    assert calls.pop()["backend_url"] == ["http://10.0.0.5:8000", "http://10.0.0.6:8000"]
    assert cli.main(["--in-process"]) == 0
    assert calls.pop()["in_process"] is True
    # a bad value fails before the UI starts
    assert cli.main(["--set", "batch_size=0"]) == 2
    assert len(calls) == 3
    assert "batch_size must be >= 1, got 0" in capsys.readouterr().err
    # so does a bad theme file
    bad = tmp_path / "mine.toml"
    bad.write_text('name = "mine"\nprimary = "blurple"\n', encoding="utf-8")
    assert cli.main(["--theme", str(bad)]) == 2
    assert len(calls) == 3
    assert capsys.readouterr().err == f"clawlet-tui: error: {bad}: primary: not a colour: 'blurple'\n"


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


# -- what a run shows while it runs -----------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_run_watch_prints_a_summary_every_10_s_when_not_a_terminal():
    stats = types.SimpleNamespace(elapsed_s=1.0, sent=1, completed=1)
    stream, clock = io.StringIO(), _Clock()
    watch = cli.RunWatch(stream, clock=clock)
    for clock.now in (0.25, 0.5, 5.0, 10.0, 10.24, 15.0, 20.3, 29.0):
        watch.update(_snapshot(), stats, prefix="baseline")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # as the load starts, at 10.25 s and at 20.3 s: not per snapshot
    assert all(line.startswith("clawlet-tui: baseline 1.0s  sent 1  done 1") for line in lines)
    assert "\r" not in stream.getvalue()


def test_run_watch_prints_each_kind_of_first_error_once():
    import dataclasses

    stream = _Tty()
    watch = cli.RunWatch(stream)
    stats = types.SimpleNamespace(elapsed_s=1.0, sent=1, completed=1)
    first = (("ValueError", "ValueError: my model broke (mymodel.py:3 in predict)"),)
    both = first + (("RequestTimeout", "request timed out after 0.5 s"),)
    for firsts in ((), first, first, both, both):
        snapshot = _snapshot()
        watch.update(dataclasses.replace(snapshot, outcomes=dataclasses.replace(snapshot.outcomes, first_errors=firsts)), stats)
    watch.finish(dataclasses.replace(snapshot, outcomes=dataclasses.replace(snapshot.outcomes, first_errors=both)))
    text = stream.getvalue()
    assert text.count("clawlet-tui: first ValueError: my model broke (mymodel.py:3 in predict)\n") == 1
    assert text.count("clawlet-tui: first RequestTimeout: request timed out after 0.5 s\n") == 1
    assert "ValueError: ValueError" not in text
    assert watch.errors_shown == {"ValueError", "RequestTimeout"}


def test_progress_counts_failures():
    import dataclasses

    snapshot = _snapshot()
    failing = dataclasses.replace(snapshot, outcomes=dataclasses.replace(snapshot.outcomes, failed=4, rejected=1))
    assert "done 2455  failed 5  " in cli.format_progress(failing, types.SimpleNamespace(elapsed_s=1, sent=2460, completed=2455))


@pytest.mark.parametrize("command", ["run", "serve"])
def test_metrics_port_taken_is_one_line_and_exit_1_before_any_load(capsys, command):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [command, "--preset", "steady", "--metrics-port", str(port)]
        code, out, err = run_main(capsys, *(argv + (["--duration", "1"] if command == "run" else ["--port", "0"])))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("clawlet-tui: error: cannot serve metrics on 127.0.0.1:") and "in use" in lines[-1]
    assert "sent" not in err and "Traceback" not in err and out == ""


def test_run_serves_metrics_that_match_its_report(capsys, monkeypatch):
    """The exporter's last snapshot is the run's own: requests_total{ok} equals the report's count."""
    from contextlib import contextmanager

    from clawlet_tui.observability import LatestSnapshot

    seen: list[LatestSnapshot] = []
    original = cli._metrics_served

    @contextmanager
    def spy(port):
        with original(port) as latest:
            seen.append(latest)
            yield latest

    monkeypatch.setattr(cli, "_metrics_served", spy)
    code, out, err = run_main(capsys, "run", "--preset", "steady", "--duration", "1", "--metrics-port", "0")
    assert code == 0 and "metrics at http://127.0.0.1:" in err
    snapshot = seen[0].get()
    assert snapshot is not None and snapshot.outcomes.succeeded > 0
    assert f"| Succeeded | {snapshot.outcomes.succeeded:,} |" in out
