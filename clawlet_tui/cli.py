"""The ``clawlet-tui`` command.

``clawlet-tui`` alone opens the dashboard; ``run``, ``compare`` and ``presets`` work
headless and never import Textual.  Expected errors (every :class:`ClawletError`: a bad
preset, a bad ``--set`` value, an unknown report extension) end the command with one
line ``clawlet-tui: error: <message>`` on stderr and the error's exit code (2 for bad
input); argparse usage errors exit 2; Ctrl+C during a run prints the report of what
happened and exits 130.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import __version__
from .engine.config import parse_assignment
from .engine.errors import ClawletError, ConfigError

PROG = "clawlet-tui"
EXIT_INTERRUPTED = 130
DEFAULT_PRESET = "steady"


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A terminal lab for model-serving optimization. "
        "Without a command, opens the live dashboard.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--preset", dest="dashboard_preset", default=DEFAULT_PRESET, metavar="NAME|PATH",
        help=f"preset the dashboard starts with (default: {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--set", dest="dashboard_sets", action="append", default=[], metavar="FIELD=VALUE",
        help="override an engine config field, e.g. --set batch_size=8 (repeatable)",
    )
    parser.add_argument("--theme", dest="dashboard_theme", default=None, metavar="NAME|PATH", help="dashboard theme")
    _add_backend_options(parser, dest_prefix="dashboard_")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run a preset headless and print the report",
        description="Run a preset's load against the engine without the dashboard, "
        "show live progress on a terminal, then print the Markdown report.",
    )
    _add_run_options(run)
    run.add_argument(
        "--baseline", action="store_true",
        help="run in baseline mode (no batching, no cache, one request at a time)",
    )

    compare = commands.add_parser(
        "compare", help="run a preset in baseline and optimized mode and compare",
        description="Run the same load against baseline mode and the optimized config "
        "(each with a fresh disk cache) and print the before/after table.",
    )
    _add_run_options(compare)

    commands.add_parser(
        "presets", help="list the presets", description="List the available presets with a one-line description each."
    )

    serve = commands.add_parser(
        "serve", help="serve a model over the Open Inference Protocol (KServe v2 HTTP)",
        description="Serve a preset's model (batched by a clawlet engine) over the Open Inference "
        "Protocol, so another clawlet (--backend URL), Triton client or KServe client can use it.",
    )
    serve.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME|PATH", help="preset whose model and engine config to serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
        help="override an engine config field of the serving engine (repeatable)",
    )
    return parser


def _add_backend_options(parser: argparse.ArgumentParser, dest_prefix: str = "") -> None:
    parser.add_argument(
        "--backend", dest=f"{dest_prefix}backend", default=None, metavar="URL",
        help="run the model on a remote Open Inference Protocol server (clawlet-tui serve, Triton, KServe) "
        "instead of in this process, e.g. http://127.0.0.1:8000",
    )
    parser.add_argument(
        "--model-name", dest=f"{dest_prefix}model_name", default=None, metavar="NAME",
        help="model name on the remote server (default: the server's only model)",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535, got {value}")
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "preset_arg", nargs="?", default=None, metavar="PRESET", help="the preset, as with --preset",
    )
    parser.add_argument(
        "--preset", default=None, metavar="NAME|PATH",
        help=f"preset name (see '{PROG} presets') or path to a preset TOML file",
    )
    parser.add_argument(
        "--duration", type=_positive_seconds, default=None, metavar="S",
        help="seconds of load, overriding the preset's duration",
    )
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
        help="override an engine config field, e.g. --set batch_size=8 (repeatable)",
    )
    parser.add_argument(
        "--report", type=Path, default=None, metavar="FILE",
        help="also write the report to FILE; format by extension: .md, .json or .csv",
    )
    parser.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the report labels (default: en)"
    )
    _add_backend_options(parser)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"duration must be a positive number of seconds, got {text!r}")
    return value


def parse_overrides(assignments: Sequence[str]) -> dict[str, Any]:
    """``["batch_size=8", ...]`` -> ``{"batch_size": 8, ...}``, typed by field (ConfigError if not)."""
    overrides: dict[str, Any] = {}
    for text in assignments:
        key, value = parse_assignment(text)
        overrides[key] = value
    return overrides


# -- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command in ("run", "compare"):
            _one_preset(parser, args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "presets":
            return cmd_presets(args)
        if args.command == "serve":
            return cmd_serve(args)
        return cmd_dashboard(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ClawletError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `clawlet-tui run | head`
        return 1


def _one_preset(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``run steady`` and ``run --preset steady`` both work; one of them is required."""
    if args.preset is not None and args.preset_arg is not None and args.preset != args.preset_arg:
        parser.error(f"{args.command}: two presets given ({args.preset_arg!r} and --preset {args.preset!r}); give one")
    args.preset = args.preset or args.preset_arg
    if args.preset is None:
        parser.error(f"{args.command}: a preset is required: {PROG} {args.command} NAME (see '{PROG} presets')")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- commands -------------------------------------------------------------------------------


def cmd_dashboard(args: argparse.Namespace) -> int:
    from .load import load_preset

    overrides = parse_overrides(args.dashboard_sets)
    load_preset(args.dashboard_preset).config.replace(**overrides)  # fail here, not inside the UI
    if args.dashboard_theme:
        from .tui.themes import is_theme_path, load_theme_file

        if is_theme_path(args.dashboard_theme):
            load_theme_file(args.dashboard_theme)  # a bad theme file: one line and exit 2, before the screen opens
    from .tui.app import run_dashboard

    return run_dashboard(
        preset=args.dashboard_preset, overrides=overrides or None, theme=args.dashboard_theme,
        backend_url=args.dashboard_backend, model_name=args.dashboard_model_name,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from .load import load_preset
    from .remote.server import run_server

    preset = load_preset(args.preset)
    config = preset.config.replace(**parse_overrides(args.sets))
    return run_server(preset.model_spec, host=args.host, port=args.port, config=config)


def cmd_presets(args: argparse.Namespace) -> int:
    from .load import list_presets, load_preset

    presets = [p if not isinstance(p, (str, Path)) else load_preset(str(p)) for p in list_presets()]
    if not presets:
        print("no presets found")
        return 0
    width = max(len(p.name) for p in presets)
    for preset in presets:
        description = " ".join((preset.description or "").split())
        print(f"{preset.name:<{width}}  {description} [{preset.load.describe()}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .report import build_run_report, render_markdown
    from .runner import resolve_config, run_preset

    preset, overrides = _prepare(args)
    mode = "baseline" if args.baseline else "optimized"
    resolve_config(preset, overrides, mode)
    progress = ProgressLine(sys.stdout)
    try:
        result = asyncio.run(
            run_preset(
                preset, duration_s=args.duration, overrides=overrides, mode=mode, progress=progress.update,
                backend_url=args.backend, model_name=args.model_name,
            )
        )
    finally:
        progress.clear()
    report = build_run_report(result)
    _print(render_markdown(report, args.lang))
    _save(args, report)
    return EXIT_INTERRUPTED if result.interrupted else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .report import build_compare_report, build_run_report, render_markdown
    from .runner import resolve_config, run_compare

    preset, overrides = _prepare(args)
    resolve_config(preset, overrides, "optimized")
    progress = ProgressLine(sys.stdout)
    try:
        baseline, optimized = asyncio.run(
            run_compare(
                preset, duration_s=args.duration, overrides=overrides,
                progress=lambda mode, snap, stats: progress.update(snap, stats, prefix=mode),
                backend_url=args.backend, model_name=args.model_name,
            )
        )
    finally:
        progress.clear()
    if optimized is None:  # interrupted during the baseline run
        from .report.labels import Labels

        report = build_run_report(baseline)
        _print(render_markdown(report, args.lang) + "\n" + Labels(args.lang).text("skipped_note") + "\n")
        _save(args, report)
        return EXIT_INTERRUPTED
    report = build_compare_report(baseline, optimized)
    _print(render_markdown(report, args.lang, detail="summary"))
    _save(args, report)
    return EXIT_INTERRUPTED if report.interrupted else 0


def _prepare(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Check everything the user typed before any load runs; returns (preset, overrides)."""
    from .load import load_preset
    from .report import format_for_path

    overrides = parse_overrides(args.sets)
    if args.report is not None:
        format_for_path(args.report)
        parent = args.report.resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"report directory {str(parent)!r} does not exist", field="report")
    preset = load_preset(args.preset)
    return preset, overrides


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _save(args: argparse.Namespace, report: Any) -> None:
    if args.report is None:
        return
    from .report import save_report

    try:
        path = save_report(args.report, report, args.lang)
    except OSError as exc:
        raise _WriteError(f"cannot write report {str(args.report)!r}: {exc.strerror or exc}") from None
    print(f"report written to {path}", file=sys.stderr)


class _WriteError(ClawletError):
    """The report could not be written (the run itself succeeded)."""


# -- progress -------------------------------------------------------------------------------


class ProgressLine:
    """One live status line, rewritten in place with a carriage return; silent unless a TTY."""

    def __init__(self, stream: IO[str], *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self._width = 0

    def update(self, snapshot: Any, stats: Any, prefix: str | None = None) -> None:
        if not self.enabled:
            return
        line = format_progress(snapshot, stats)
        if prefix:
            line = f"{prefix:<9} {line}"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def format_progress(snapshot: Any, stats: Any) -> str:
    """e.g. ``12.3s  sent 2460  done 2455  412 req/s  p50 3.1 ms  p99 9.8 ms  batch 6.2  cache 41%``."""
    elapsed = _get(stats, "elapsed_s", snapshot.uptime_s)
    sent = _get(stats, "sent", snapshot.outcomes.submitted)
    done = _get(stats, "completed", snapshot.outcomes.finished)
    latency = snapshot.window_latency
    return (
        f"{elapsed:5.1f}s  sent {sent}  done {done}  {snapshot.window_throughput_rps:.0f} req/s  "
        f"p50 {latency.p50_ms:.1f} ms  p99 {latency.p99_ms:.1f} ms  "
        f"batch {snapshot.batches.window_mean_size:.1f}  cache {snapshot.cache.hit_rate:.0%}"
    )


def _get(obj: Any, name: str, default: Any) -> Any:
    value = getattr(obj, name, None)
    return default if value is None else value


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
