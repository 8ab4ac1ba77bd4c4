"""The ``clawlet-tui`` command.

``clawlet-tui`` alone opens the dashboard; ``run``, ``compare`` and ``presets`` work
headless and never import Textual.  Expected errors end the command with one line
``clawlet-tui: error: <message>`` on stderr, never a traceback.  Exit codes, one rule
each:

* 0: done;
* 1: the command was right but something outside it failed: a ``--backend`` that cannot
  be reached (at start, before any load), a port already in use, a report that cannot be
  written;
* 2: bad input: what was typed or a file it names is wrong (an unknown preset or field,
  a malformed preset or theme file, ``--set batch_size=0``, a malformed ``--backend``
  URL, a usage error);
* 3: the run ended but no request succeeded (the first error of each kind was printed),
  or, with ``--fail-on-alert``, an alert fired during it (a CI gate, like k6 thresholds);
* 130 / 143: stopped by SIGINT (Ctrl+C) / SIGTERM, *after* a clean stop: the load stops,
  the engine drains, a run prints the report of what happened, temporary L2 directories
  are removed, the dashboard restores the terminal, ``serve`` finishes what it holds.

While a run goes, progress goes to stderr (so ``run > report.md`` still shows it): a
live line when stderr is a terminal, otherwise one summary line every 10 s; the first
error of each kind is printed once, when it first happens, and each alert (a preset's
``[[alerts]]`` or ``slo_p99_ms``) as it fires and as it resolves.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from . import __version__
from .engine.config import (
    ALIASES,
    OptimizationConfig,
    parse_assignment,
    unknown_config_field,
)
from .engine.errors import ClawletError, ConfigError
from .engine.snapshot import MetricsSnapshot
from .tune import capacity_command
from .tune import command as tune_command
from .web import command as web_command

if TYPE_CHECKING:
    from .load import Preset
    from .observability import LatestSnapshot

PROG = "clawlet-tui"
EXIT_EXTERNAL = 1
EXIT_BAD_INPUT = 2
#: the run ended and not one request succeeded
EXIT_NO_SUCCESS = 3
#: ``--fail-on-alert``: an alert fired during the run
EXIT_ALERT = 3
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
DEFAULT_PRESET = "steady"
#: a run planned longer than this says so when it starts
LONG_RUN_S = 300.0
#: seconds between progress summaries when stderr is not a terminal
SUMMARY_EVERY_S = 10.0

_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(OptimizationConfig))


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``--duration -1`` is bad input like any other)."""

    def error(self, message: str) -> NoReturn:
        hint = "" if "(see '" in message else f" (see '{self.prog} --help')"
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}{hint}\n")


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    parser.add_argument(
        "--in-process", dest="dashboard_in_process", action="store_true",
        help="run the engine in the dashboard's process (to debug a user model; "
        "the engine's P99 rises up to ~2x while the dashboard renders)",
    )
    _add_backend_options(parser, dest_prefix="dashboard_")
    _add_model_file_option(parser, dest="dashboard_model")
    _add_metrics_option(parser, dest="dashboard_metrics_port")
    parser.set_defaults(func=cmd_dashboard)
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
    _add_metrics_option(run)
    run.set_defaults(func=cmd_run)

    compare = commands.add_parser(
        "compare", help="run a preset in baseline and optimized mode and compare",
        description="Run the same load against baseline mode and the optimized config "
        "(each with a fresh disk cache) and print the before/after table.",
    )
    _add_run_options(compare)
    compare.add_argument(
        "--warm", action="store_true",
        help="warm the optimized side's cache before its load (the preset's [warmup], else the keys "
        "most likely to be asked for, as many as L1 holds); the baseline has no cache",
    )
    compare.set_defaults(func=cmd_compare)

    presets = commands.add_parser(
        "presets", help="list the presets", description="List the available presets with a one-line description each."
    )
    presets.set_defaults(func=cmd_presets)

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
    serve.add_argument(
        "--model-name", dest="model_name", default=None, metavar="NAME",
        help="name clients use for the model (default: its kind, e.g. 'mlp'; for your own "
        "function, its module's name; for an ONNX file, its stem)",
    )
    _add_model_file_option(serve)
    _add_metrics_option(serve)
    serve.set_defaults(func=cmd_serve)

    tune = commands.add_parser(
        "tune", help="tune the engine config live under a P99 objective",
        description="Run a preset's load on one live engine, try configs one after another "
        "(reconfigured live, each measured until stable) and pick the best under the P99 SLO. "
        "See docs/tuning.md.",
    )
    tune_command.add_arguments(tune)
    tune.set_defaults(func=tune_command.run)

    web = commands.add_parser(
        "web", help="serve the dashboard to a browser (the 'web' extra)",
        description="Serve the dashboard to web browsers through textual-serve: each browser tab runs its "
        "own dashboard and engine, with the dashboard's options. Needs: pip install 'clawlet-tui[web]'. "
        "See docs/web.md.",
    )
    web_command.add_arguments(web, port_type=_port)
    web.set_defaults(func=web_command.run)

    capacity = commands.add_parser(
        "capacity", help="the highest open-loop rate the config sustains under a P99 SLO",
        description="Raise a preset's open-loop rate on one live engine (doubling, then bisecting) to the "
        "highest rate with P99 <= SLO and success >= 99.9%. See docs/tuning.md.",
    )
    capacity_command.add_arguments(capacity)
    capacity.set_defaults(func=capacity_command.run)
    return parser


def _add_backend_options(parser: argparse.ArgumentParser, dest_prefix: str = "") -> None:
    parser.add_argument(
        "--backend", dest=f"{dest_prefix}backend", default=None, metavar="URL", action="append",
        help="run the model on a remote Open Inference Protocol server (clawlet-tui serve, Triton, KServe) "
        "instead of in this process, e.g. http://127.0.0.1:8000; repeat it for several replicas of the model "
        "(batches go to the least busy, see docs/remote.md)",
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


def _add_metrics_option(parser: argparse.ArgumentParser, dest: str = "metrics_port") -> None:
    parser.add_argument(
        "--metrics-port", dest=dest, type=_port, default=None, metavar="PORT",
        help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics (0 picks a free port); "
        "see docs/observability.md",
    )


@contextmanager
def _metrics_served(port: int | None) -> Iterator[LatestSnapshot | None]:
    """Serve /metrics while the block runs, started before any load (a taken port: one
    line, exit 1); yields where the engine side publishes its snapshots, None without
    ``--metrics-port``."""
    if port is None:
        yield None
        return
    from .observability import LatestSnapshot, MetricsServer

    latest = LatestSnapshot()
    server = MetricsServer(port, latest.get)
    server.start()
    print(f"{PROG}: metrics at {server.url}", file=sys.stderr, flush=True)
    try:
        yield latest
    finally:
        server.stop()


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
        help="also write the report to FILE; format by extension: .md, .json, .csv (and FILE-timeline.csv) "
        "or .html (charts; needs the 'report' extra)",
    )
    parser.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of the report labels (default: en)"
    )
    parser.add_argument(
        "--fail-on-alert", action="store_true",
        help="exit with code 3 if any alert fired during the run (the preset's [[alerts]] and slo_p99_ms)",
    )
    _add_backend_options(parser)
    _add_model_file_option(parser)


def _add_model_file_option(parser: argparse.ArgumentParser, dest: str = "model") -> None:
    parser.add_argument(
        "--model", dest=dest, default=None, metavar="PATH.onnx",
        help="run this ONNX model in process instead of the preset's [model] (needs clawlet-tui[onnx]); "
        f"the preset defaults to {DEFAULT_PRESET}",
    )


def _with_model_file(preset: Any, path: str | None) -> Any:
    """``--model``: the preset with that file as its model; prints the model's notice, if any."""
    if path is not None:
        from .load.model_file import with_model_file

        preset = with_model_file(preset, path)
    notice = getattr(preset, "model_notice", None)
    if notice:
        print(f"{PROG}: {notice}", file=sys.stderr, flush=True)
    return preset


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"duration must be a positive number of seconds, got {text!r}")
    return value


def parse_overrides(assignments: Sequence[str]) -> dict[str, Any]:
    """``["batch_size=8", ...]`` -> ``{"batch_size": 8, ...}``, typed by field.

    Every error is a ConfigError whose message starts ``--set:`` once and, for an unknown
    field, suggests the closest one, as preset files do.
    """
    overrides: dict[str, Any] = {}
    for text in assignments:
        if "=" not in text:
            raise ConfigError(reason=f"{text!r}: expected FIELD=VALUE, e.g. batch_size=16", source="--set")
        raw_key = text.split("=", 1)[0].strip()
        if ALIASES.get(raw_key, raw_key) not in _CONFIG_FIELDS:
            raise unknown_config_field(raw_key, source="--set")
        key, value = parse_assignment(text)
        overrides[key] = value
    return overrides


# -- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _one_preset(parser, args)
        command: Callable[[argparse.Namespace], int] = args.func
        return command(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ClawletError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except _Stopped as exc:
        print(f"\n{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `clawlet-tui run | head`
        return 1


def _one_preset(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``run steady`` and ``run --preset steady`` both work; one of them is required.

    Only commands with a positional preset (``run``, ``compare``) are concerned.
    """
    if not hasattr(args, "preset_arg"):
        return
    if args.preset is not None and args.preset_arg is not None and args.preset != args.preset_arg:
        parser.error(f"{args.command}: two presets given ({args.preset_arg!r} and --preset {args.preset!r}); give one")
    args.preset = args.preset or args.preset_arg
    if args.preset is None and getattr(args, "model", None) is not None:
        args.preset = DEFAULT_PRESET  # `run --model m.onnx`: the default load
    if args.preset is None:
        parser.error(f"{args.command}: a preset is required: {PROG} {args.command} NAME (see '{PROG} presets')")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- signals --------------------------------------------------------------------------------


class _Stopped(Exception):
    """A signal stopped the command before there was anything to report."""

    def __init__(self, signum: int, what: str) -> None:
        self.exit_code = 128 + signum
        super().__init__(f"{signal.Signals(signum).name}: {what}")


class SignalWatch:
    """Makes SIGTERM end an asyncio command the way Ctrl+C does, and remembers which came.

    Ctrl+C (SIGINT) is asyncio's own handling: ``asyncio.run`` cancels the main task and
    :func:`~clawlet_tui.runner.run_preset` turns that cancellation into a drained,
    reported, interrupted run.  SIGTERM (``kill``, systemd, ``docker stop``, CI time-outs)
    gets the same treatment here: the first one cancels the main task once; later ones
    are ignored while the run drains (the drain is bounded, so the process still ends).
    """

    def __init__(self) -> None:
        self.terminated = False

    @property
    def exit_code(self) -> int:
        return EXIT_TERMINATED if self.terminated else EXIT_INTERRUPTED

    @property
    def signal_name(self) -> str:
        return "SIGTERM" if self.terminated else "SIGINT"

    def run(self, make: Callable[[], Any]) -> Any:
        """``asyncio.run(make())`` with SIGTERM cancelling it; see the class doc."""

        async def main() -> Any:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            assert task is not None

            def on_sigterm() -> None:
                if not self.terminated:
                    self.terminated = True
                    task.cancel()

            try:
                loop.add_signal_handler(signal.SIGTERM, on_sigterm)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not Unix / not main thread
                return await make()
            try:
                return await make()
            finally:
                loop.remove_signal_handler(signal.SIGTERM)

        try:
            return asyncio.run(main())
        except asyncio.CancelledError:
            # SIGTERM arrived before the run could catch it (while starting): nothing to report
            raise _Stopped(signal.SIGTERM, "stopped before the load started") from None


# -- commands -------------------------------------------------------------------------------


def check_dashboard_args(args: argparse.Namespace) -> tuple[Preset, dict[str, Any]]:
    """Everything the dashboard options name, checked before a screen opens (or the web
    view listens): preset, ``--model``, ``--set``, theme file, a reachable backend; the
    preset (with ``--model``'s file in it) and the overrides."""
    from .load import load_preset
    from .session import backend_urls, resolve_config

    overrides = parse_overrides(args.dashboard_sets)
    preset = load_preset(args.dashboard_preset)
    if args.dashboard_model is not None and args.dashboard_backend is not None:
        raise ConfigError(reason="give --model (run it here) or --backend (run it there), not both", field="--model", sep=": ")
    preset = _with_model_file(preset, args.dashboard_model)
    resolve_config(preset, overrides)  # fail here, not inside the UI
    if args.dashboard_theme:
        _check_theme_file(args.dashboard_theme)
    urls = backend_urls(preset, args.dashboard_backend)
    if urls:
        check_backend(urls, args.dashboard_model_name or getattr(preset, "backend_model", None))
    return preset, overrides


def cmd_dashboard(args: argparse.Namespace) -> int:
    preset, overrides = check_dashboard_args(args)
    from .tui.app import run_dashboard

    stop = _DashboardStop()
    with _metrics_served(args.dashboard_metrics_port) as latest, stop.installed():
        code = run_dashboard(
            preset=args.dashboard_preset, overrides=overrides or None, theme=args.dashboard_theme,
            backend_url=args.dashboard_backend, model_name=args.dashboard_model_name, on_app=stop.attach,
            in_process=args.dashboard_in_process, on_snapshot=latest.publish if latest is not None else None,
            preset_object=preset if args.dashboard_model is not None else None,
        )
    return stop.exit_code if stop.signum is not None else code


class _DashboardStop:
    """SIGTERM and SIGINT quit the dashboard the way ``q`` does: stop the load, drain, restore.

    Textual reads Ctrl+C as a key, so a *signal* is what ``kill`` or a supervisor sends.
    The handler only schedules the app's own quit action on its event loop
    (``call_soon_threadsafe`` is safe from a signal handler), so the terminal is restored
    and the temporary L2 directory removed by the normal unmount path.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._app: Any = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def attach(self, app: Any) -> None:
        self._app = app

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            return  # already quitting; the drain is bounded
        self.signum = signum
        app = self._app
        if app is None:  # before the app exists: nothing started yet
            raise _Stopped(signum, "stopped before the dashboard opened")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running yet: quit as soon as it processes messages
            app.call_later(app.action_quit)
            return
        loop.call_soon_threadsafe(app.call_later, app.action_quit)

    def installed(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def handlers() -> Any:
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        return handlers()


def _check_theme_file(theme: str) -> None:
    """A ``--theme`` file is checked before the screen opens; errors name the path as given."""
    from .engine.errors import ThemeError
    from .tui.themes import is_theme_path, load_theme_file

    if not is_theme_path(theme):
        return
    try:
        load_theme_file(theme)
    except ThemeError as exc:
        # the theme loader shortens paths to ``dir/file.toml`` for the event log; on the
        # command line the user needs the path they typed, absolute or not
        raise ThemeError(
            reason=exc.reason, field=exc.field, sep=exc.sep, source=str(Path(theme).expanduser())
        ) from None


def check_backend(urls: Sequence[str], model_name: str | None) -> None:
    """Reach the backend once before a screen opens (of several, one ready is enough):
    an unreachable backend is exit 1, one line."""
    from .session import remote_backend

    async def probe() -> None:
        backend = remote_backend(urls, model_name, 1)
        try:
            await backend.start()
        finally:
            await backend.close()

    asyncio.run(probe())


def cmd_serve(args: argparse.Namespace) -> int:
    from .load import load_preset
    from .remote.server import run_server
    from .session import build_session

    preset = _with_model_file(load_preset(args.preset), args.model)
    name = args.model_name or default_served_name(preset.model_spec)
    # model and engine built as for `run` (one builder), with a temporary L2 unless the
    # config names a directory; the load generator it also builds is never started.  serve
    # always serves the preset's own model, even when the preset runs its load against a
    # backend_url (`serve --preset remote` is that backend)
    local = dataclasses.replace(preset, backend_url=None, backend_model=None, backend_urls=())
    with _metrics_served(args.metrics_port) as latest, build_session(
        local, overrides=parse_overrides(args.sets)
    ) as session:
        return run_server(
            host=args.host, port=args.port, model_name=name, signal_exit=True, metrics=latest, session=session,
        )


def default_served_name(spec: dict[str, Any] | None) -> str:
    """A short name to serve a preset's model under: its kind, or a user function's module."""
    spec = spec or {}
    if "target" in spec:
        return str(spec["target"]).partition(":")[0].rpartition(".")[2] or "model"
    if "path" in spec:
        return Path(str(spec["path"])).stem or "model"
    return str(spec.get("kind", "mlp"))


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
    from .runner import run_preset

    preset, overrides = _prepare(args)
    mode = "baseline" if args.baseline else "optimized"
    _announce_plan(preset, args.duration, runs=1)
    if preset.warmup is not None and args.baseline:
        print(f"{PROG}: no warm-up: baseline mode runs without the cache", file=sys.stderr)
    watch = RunWatch(sys.stderr)
    signals = SignalWatch()
    try:
        with _metrics_served(args.metrics_port) as latest:

            def progress(snapshot: MetricsSnapshot, stats: Any) -> None:
                if latest is not None:  # run's progress ticks are on the engine loop: publish from there
                    latest.publish(snapshot)
                watch.update(snapshot, stats)

            result = signals.run(
                lambda: run_preset(
                    preset, duration_s=args.duration, overrides=overrides, mode=mode, progress=progress,
                    backend_url=args.backend, model_name=args.model_name, on_alert=watch.alert,
                    warmup=preset.warmup, warmup_progress=watch.warmup,
                )
            )
    finally:
        watch.clear()
    watch.finish(result.snapshot)
    if result.interrupted:
        result = dataclasses.replace(result, interrupt_signal=signals.signal_name)
    report = build_run_report(result)
    _print(render_markdown(report, args.lang))
    _save(args, report)
    if result.interrupted:
        return signals.exit_code
    return _no_success_check(result, watch) or _alert_check(args, [result])


def cmd_compare(args: argparse.Namespace) -> int:
    from .report import build_compare_report, build_run_report, render_markdown
    from .runner import run_compare

    preset, overrides = _prepare(args)
    _announce_plan(preset, args.duration, runs=2)
    warmup = None
    if args.warm:
        from .load.warmup import plan_for
        from .session import resolve_config

        warmup = plan_for(preset, resolve_config(preset, overrides).l1_cache_size)
    watch = RunWatch(sys.stderr)
    signals = SignalWatch()
    try:
        baseline, optimized = signals.run(
            lambda: run_compare(
                preset, duration_s=args.duration, overrides=overrides,
                progress=lambda mode, snap, stats: watch.update(snap, stats, prefix=mode),
                backend_url=args.backend, model_name=args.model_name,
                on_alert=lambda mode, event: watch.alert(event, prefix=mode),
                warmup=warmup, warmup_progress=lambda p: watch.warmup(p, prefix="optimized"),
            )
        )
    finally:
        watch.clear()
    results = [r for r in (baseline, optimized) if r is not None]
    for result in results:
        watch.finish(result.snapshot)
    results = [
        dataclasses.replace(r, interrupt_signal=signals.signal_name) if r.interrupted else r for r in results
    ]
    if len(results) == 1:  # interrupted during the baseline run
        from .report.labels import Labels

        report = build_run_report(results[0])
        _print(render_markdown(report, args.lang) + "\n" + Labels(args.lang).text("skipped_note") + "\n")
        _save(args, report)
        return signals.exit_code
    report = build_compare_report(*results)
    _print(render_markdown(report, args.lang, detail="summary"))
    _save(args, report)
    if report.interrupted:
        return signals.exit_code
    return max(_no_success_check(r, watch) for r in results) or _alert_check(args, results)


def _alert_check(args: argparse.Namespace, results: Sequence[Any]) -> int:
    """With ``--fail-on-alert``: exit code 3, with one line saying which, if any alert fired."""
    fired = [(r.mode, event) for r in results for event in r.alerts]
    if not args.fail_on_alert or not fired:
        return 0
    rules = list(dict.fromkeys(event.rule.describe() for _, event in fired))
    runs = " and ".join(dict.fromkeys(mode for mode, _ in fired))
    print(
        f"{PROG}: error: {len(fired)} alert{'s' if len(fired) > 1 else ''} fired in the {runs} run "
        f"(--fail-on-alert): {'; '.join(rules)}",
        file=sys.stderr,
    )
    return EXIT_ALERT


def _no_success_check(result: Any, watch: RunWatch) -> int:
    """Exit code 3, with one line saying why, when a run ended and nothing succeeded."""
    o = result.snapshot.outcomes
    if o.succeeded:
        return 0
    if not o.submitted:
        why = "no request was sent"
    else:
        parts = [f"{n:,} {what}" for n, what in ((o.failed, "failed"), (o.rejected, "rejected"),
                                                  (o.timed_out, "timed out"), (o.cancelled, "cancelled")) if n]
        where = "the first error of each kind is above" if watch.errors_shown else "errors by kind are in the report"
        why = f"{', '.join(parts) or 'none finished'} of {o.submitted:,}; {where}"
    print(f"{PROG}: error: no request succeeded in the {result.mode} run ({why})", file=sys.stderr)
    return EXIT_NO_SUCCESS


def _announce_plan(preset: Any, duration_s: float | None, *, runs: int) -> None:
    """Say how long a long run will take before it starts (a preset may run for an hour)."""
    from .load.profiles import format_duration

    planned = duration_s if duration_s is not None else preset.load.duration_s
    if planned is None or planned <= LONG_RUN_S:
        return
    where = "--duration" if duration_s is not None else f"preset {preset.name}'s duration_s"
    length = format_duration(planned)
    each = f"{runs} runs (baseline, then optimized) of {length} each" if runs > 1 else length
    print(
        f"{PROG}: this runs for {each} ({where}); --duration S sets a shorter run, "
        "Ctrl+C or SIGTERM stops it early with a report",
        file=sys.stderr, flush=True,
    )


def _prepare(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Check everything the user typed before any load runs; returns (preset, overrides)."""
    from .load import load_preset
    from .report import format_for_path
    from .session import resolve_config

    overrides = parse_overrides(args.sets)
    if args.report is not None:
        format_for_path(args.report)
        parent = args.report.resolve().parent
        if not parent.is_dir():
            raise ConfigError(reason=f"report directory {str(parent)!r} does not exist", field="report", sep=None)
    if args.model is not None and args.backend is not None:
        raise ConfigError(reason="give --model (run it here) or --backend (run it there), not both", field="--model", sep=": ")
    preset = _with_model_file(load_preset(args.preset), args.model)
    resolve_config(preset, overrides)
    return preset, overrides


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _save(args: argparse.Namespace, report: Any) -> None:
    if args.report is None:
        return
    from .report import report_files, save_report

    try:
        save_report(args.report, report, args.lang)
    except OSError as exc:
        raise _WriteError(f"cannot write report {str(args.report)!r}: {exc.strerror or exc}") from None
    print(f"report written to {', '.join(map(str, report_files(args.report)))}", file=sys.stderr)


class _WriteError(ClawletError):
    """The report could not be written (the run itself succeeded)."""


# -- progress -------------------------------------------------------------------------------


class RunWatch:
    """What a headless run shows on ``stream`` (stderr) while it runs.

    * On a terminal, a live line rewritten in place (:class:`ProgressLine`); otherwise
      (CI logs, ``2> file``) one summary line as soon as the load flows, then one every
      ``summary_every_s``, so a long run piped somewhere is never silent until its end.
    * The first error of each kind (``snapshot.outcomes.first_errors``) once, when it
      first appears in a snapshot, not once per request.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        live: bool | None = None,
        summary_every_s: float = SUMMARY_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.line = ProgressLine(stream, enabled=live)
        self.summary_every_s = summary_every_s
        self.clock = clock
        self._next_summary: float | None = None
        self._errors_shown: set[str] = set()

    def update(self, snapshot: Any, stats: Any, prefix: str | None = None) -> None:
        self.show_errors(snapshot)
        if self.line.enabled:
            self.line.update(snapshot, stats, prefix=prefix)
            return
        now = self.clock()
        if self._next_summary is None or now >= self._next_summary:
            self._next_summary = now + self.summary_every_s
            label = f"{prefix} " if prefix else ""
            self.stream.write(f"{PROG}: {label}{format_progress(snapshot, stats).strip()}\n")
            self.stream.flush()

    def warmup(self, progress: Any, prefix: str | None = None) -> None:
        """A warm-up's progress (``WarmupProgress``): live on a terminal; its end, one line always."""
        label = f"{prefix} " if prefix else ""
        if progress.finished:
            self.line.clear()
            self.stream.write(f"{PROG}: {label}{progress.describe()}\n")
            self.stream.flush()
        else:
            self.line.show(f"{label}{progress.describe()}")

    @property
    def errors_shown(self) -> frozenset[str]:
        """Error kinds printed so far."""
        return frozenset(self._errors_shown)

    def show_errors(self, snapshot: Any) -> None:
        """Print each error kind's first message that was not printed yet."""
        new = [(k, m) for k, m in getattr(snapshot.outcomes, "first_errors", ()) if k not in self._errors_shown]
        if not new:
            return
        self.line.clear()
        for kind, message in new:
            self._errors_shown.add(kind)
            self.stream.write(f"{PROG}: first {format_first_error(kind, message)}\n")
        self.stream.flush()

    def alert(self, event: Any, prefix: str | None = None) -> None:
        """One line for an alert that fired or resolved (an :class:`AlertEvent`), as it happens."""
        self.line.clear()
        label = f"{prefix} " if prefix else ""
        self.stream.write(f"{PROG}: {label}alert {event.line()}\n")
        self.stream.flush()

    def finish(self, snapshot: Any) -> None:
        """After the run: errors of the last moments that no progress snapshot saw."""
        self.line.clear()
        self.show_errors(snapshot)

    def clear(self) -> None:
        self.line.clear()


def format_first_error(kind: str, message: str) -> str:
    """``ValueError: my model broke (mymodel.py:3 in predict)``, the kind said once."""
    message = " ".join(str(message).split())
    return message if message.startswith(f"{kind}:") else f"{kind}: {message}"


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

    def show(self, line: str) -> None:
        """Any one line in place (a warm-up's progress)."""
        if not self.enabled:
            return
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def format_progress(snapshot: Any, stats: Any) -> str:
    """e.g. ``12.3s  sent 2460  done 2455  412 req/s  p50 3.1 ms  p99 9.8 ms  batch 6.2  cache 41%``.

    ``failed N`` follows ``done`` once any request failed, was rejected or timed out.
    """
    elapsed = _get(stats, "elapsed_s", snapshot.uptime_s)
    sent = _get(stats, "sent", snapshot.outcomes.submitted)
    done = _get(stats, "completed", snapshot.outcomes.finished)
    o = snapshot.outcomes
    bad = o.failed + o.rejected + o.timed_out
    failed = f"  failed {bad}" if bad else ""
    latency = snapshot.window_latency
    return (
        f"{elapsed:5.1f}s  sent {sent}  done {done}{failed}  {snapshot.window_throughput_rps:.0f} req/s  "
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
