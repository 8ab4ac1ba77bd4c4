"""``clawlet-tui web``: its arguments, the dashboard command each browser tab runs, the
checks before it listens, and the one line when the ``web`` extra is missing."""

from __future__ import annotations

import shlex
import socket
import sys

import pytest

from clawlet_tui import cli
from clawlet_tui.web import command as web_command


def parse(*argv: str):
    return cli.build_parser().parse_args(list(argv))


def test_web_parses_host_port_and_the_dashboard_options() -> None:
    args = parse(
        "web", "--port", "8123", "--host", "0.0.0.0", "--preset", "burst", "--set", "batch_size=4",
        "--set", "max_concurrent=3", "--theme", "dark", "--in-process",
    )
    assert args.func is web_command.run
    assert (args.host, args.port) == ("0.0.0.0", 8123)
    assert web_command.dashboard_argv(args) == [
        "--preset", "burst", "--set", "batch_size=4", "--set", "max_concurrent=3", "--theme", "dark", "--in-process",
    ]


def test_defaults_are_the_dashboards_and_a_loopback_port() -> None:
    args = parse("web")
    assert (args.host, args.port) == ("127.0.0.1", web_command.DEFAULT_PORT)
    assert web_command.dashboard_argv(args) == ["--preset", cli.DEFAULT_PRESET]


def test_dashboard_options_before_web_apply_and_after_it_win() -> None:
    before = parse("--preset", "burst", "--set", "batch_size=4", "--backend", "http://127.0.0.1:9", "web")
    assert web_command.dashboard_argv(before) == [
        "--preset", "burst", "--set", "batch_size=4", "--backend", "http://127.0.0.1:9",
    ]
    after = parse("--preset", "burst", "web", "--preset", "ramp", "--model-name", "mlp")
    assert web_command.dashboard_argv(after) == ["--preset", "ramp", "--model-name", "mlp"]
    replicas = parse("web", "--backend", "http://127.0.0.1:9", "--backend", "http://127.0.0.1:10")
    assert web_command.dashboard_argv(replicas)[-4:] == [
        "--backend", "http://127.0.0.1:9", "--backend", "http://127.0.0.1:10",
    ]


def test_the_command_runs_this_interpreter_and_survives_the_shell() -> None:
    # textual-serve runs a shell command line: odd characters in a path must come through whole
    args = parse("web", "--preset", "my presets/it's $HOME.toml", "--set", "batch_size=4")
    command = web_command.dashboard_command(args)
    assert command.startswith("exec ")
    assert shlex.split(command.removeprefix("exec ")) == [
        sys.executable, "-m", "clawlet_tui", "--preset", "my presets/it's $HOME.toml", "--set", "batch_size=4",
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["web", "--port", "70000"], "port must be in 0..65535, got 70000"),
        (["web", "--port", "http"], "expected a port number, got 'http'"),
        (["web", "--workers", "2"], "unrecognized arguments: --workers 2"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv: list[str], expected: str) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["web", "--preset", "nope"], "nope: unknown preset (available:"),
        (["web", "--set", "batch_size=0"], "--set: batch_size must be >= 1, got 0"),
        (["web", "--theme", "missing/theme.toml"], "missing/theme.toml"),
    ],
)
def test_bad_dashboard_options_stop_it_before_it_listens(capsys, argv: list[str], expected: str) -> None:
    # --port 0: were the check to come after listening, main() would serve and never return
    assert cli.main([*argv, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("clawlet-tui: error: ") and expected in err and err.count("\n") == 1


def test_a_port_in_use_is_one_line_and_exit_1(capsys) -> None:
    pytest.importorskip("textual_serve")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["web", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot serve the web view on 127.0.0.1:{port}: the port is already in use" in err
    assert err.count("\n") == 1


def test_without_the_web_extra_it_names_the_install_command_and_exits_2(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # `import textual_serve` now fails
    monkeypatch.delitem(sys.modules, "clawlet_tui.web.server", raising=False)
    assert cli.main(["web", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "clawlet-tui: error: the web view needs textual-serve, which is not installed (textual_serve); "
        "install it with: pip install 'clawlet-tui[web]'\n"
    )
