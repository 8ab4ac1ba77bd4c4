"""``clawlet-tui web [--port N] [--host H]``: the command's arguments and its run.

It takes the dashboard's own options (``--preset``, ``--set``, ``--theme``,
``--in-process``, ``--backend``, ``--model-name``), after ``web`` or before it as for
the dashboard, checks them as the dashboard does before it listens (a bad preset or
``--set`` is one line and exit 2 at once, not a broken page later), and then serves
``python -m clawlet_tui <those options>`` to every browser tab that opens the page.

Exit codes, as for the other commands: 0 done; 1 the port cannot be bound; 2 bad input,
or the ``web`` extra is not installed (one line naming the install command); 130 / 143
stopped by SIGINT / SIGTERM after every open dashboard quit.

This module imports neither textual-serve nor Textual until :func:`run` needs them, so
``clawlet-tui --help`` works without the extra.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from typing import Any

from ..engine.errors import ClawletError

DEFAULT_PORT = 8080
#: how to get the optional dependency, said when it is missing
INSTALL_HINT = "pip install 'clawlet-tui[web]'"
#: what the extra brings: textual-serve and the modules it needs that clawlet does not
_EXTRA_MODULES = frozenset({"textual_serve", "jinja2", "aiohttp_jinja2", "markupsafe"})


class WebExtraMissing(ClawletError):
    """textual-serve (the ``web`` extra) is not installed.  Exit 2: what was asked for
    needs a part the user chose not to install, which they fix, as with bad input."""

    exit_code = 2


def add_arguments(parser: argparse.ArgumentParser, *, port_type: Callable[[str], int]) -> None:
    """The ``web`` options on ``parser``; ``port_type`` parses a port as the CLI's other ports."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument(
        "--port", type=port_type, default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT}; 0 picks a free port)",
    )
    # the dashboard's options, with the dashboard's own dest names: given after `web` they
    # replace the same option given before it (SUPPRESS keeps the top-level value otherwise)
    parser.add_argument(
        "--preset", dest="dashboard_preset", default=argparse.SUPPRESS, metavar="NAME|PATH",
        help="preset each dashboard starts with (default: steady)",
    )
    parser.add_argument(
        "--set", dest="dashboard_sets", action="append", default=argparse.SUPPRESS, metavar="FIELD=VALUE",
        help="override an engine config field, e.g. --set batch_size=8 (repeatable)",
    )
    parser.add_argument("--theme", dest="dashboard_theme", default=argparse.SUPPRESS, metavar="NAME|PATH", help="dashboard theme")
    parser.add_argument(
        "--in-process", dest="dashboard_in_process", action="store_true", default=argparse.SUPPRESS,
        help="run each engine in its dashboard's process (see clawlet-tui --help)",
    )
    parser.add_argument(
        "--backend", dest="dashboard_backend", default=argparse.SUPPRESS, metavar="URL", action="append",
        help="run the model on a remote Open Inference Protocol server, as the dashboard's --backend (repeatable)",
    )
    parser.add_argument(
        "--model-name", dest="dashboard_model_name", default=argparse.SUPPRESS, metavar="NAME",
        help="model name on the remote server (default: the server's only model)",
    )


def dashboard_argv(args: argparse.Namespace) -> list[str]:
    """The ``clawlet-tui`` arguments that open the dashboard these options describe."""
    argv = ["--preset", str(args.dashboard_preset)]
    for assignment in args.dashboard_sets:
        argv += ["--set", assignment]
    if args.dashboard_theme:
        argv += ["--theme", args.dashboard_theme]
    if args.dashboard_in_process:
        argv.append("--in-process")
    if getattr(args, "dashboard_model", None):
        argv += ["--model", str(args.dashboard_model)]
    for url in args.dashboard_backend or ():
        argv += ["--backend", url]
    if args.dashboard_model_name:
        argv += ["--model-name", args.dashboard_model_name]
    return argv


def dashboard_command(args: argparse.Namespace, python: str | None = None) -> str:
    """The shell command each browser tab runs (textual-serve runs a command line).

    ``python -m clawlet_tui`` with this interpreter, not ``clawlet-tui`` from ``PATH``:
    the dashboard must come from the environment the server runs in.  ``exec`` makes the
    dashboard the process itself (not a shell's child), so a signal reaches it.
    """
    return "exec " + shlex.join([python or sys.executable, "-m", "clawlet_tui", *dashboard_argv(args)])


def run(args: argparse.Namespace) -> int:
    """Check the dashboard options, then serve until SIGINT/SIGTERM; the exit code."""
    try:
        import asyncio

        from .server import WebView, serve_until_signalled
    except ImportError as exc:
        if exc.name not in _EXTRA_MODULES:
            raise
        raise WebExtraMissing(
            f"the web view needs textual-serve, which is not installed ({exc.name or exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    from ..cli import check_dashboard_args

    check_dashboard_args(args)
    view = WebView(dashboard_command(args), title=f"clawlet-tui · {args.dashboard_preset}")

    def announce(url: str) -> None:
        print(
            f"clawlet-tui web: the dashboard at {url} (each browser tab runs its own dashboard and engine; "
            "Ctrl-C or SIGTERM stops it)",
            flush=True,
        )

    stopped_by: Any = None
    try:
        stopped_by = asyncio.run(serve_until_signalled(view, args.host, args.port, announce=announce))
    except KeyboardInterrupt:  # where signal handlers could not be installed
        return 130
    return 128 + stopped_by if stopped_by is not None else 0
