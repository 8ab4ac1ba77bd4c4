"""Helpers for CLI tests that run ``clawlet-tui`` as a child process.

Signal tests synchronize on what the child prints (a progress line, the serve banner,
the dashboard's first frame), never on sleeps: :meth:`Child.wait_for` blocks until a
matching line arrives, with a generous timeout that only matters when something is broken.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

#: seconds to wait for an expected line before failing (a broken child, not a slow one)
LINE_TIMEOUT_S = 60.0


class Child:
    """A ``clawlet-tui`` child process whose stdout and stderr are read line by line as they come."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        default_sigint: bool = False,
    ) -> None:
        # A shell starts background jobs with SIGINT ignored and children inherit that;
        # ``default_sigint`` gives the child the default disposition, as a terminal's would be.
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if default_sigint else None
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, preexec_fn=preexec,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._queue: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines[name].append(line)
            self._queue.put((name, line))
        self._queue.put((name, None))

    def wait_for(self, stream: str, match: Callable[[str], bool], timeout_s: float = LINE_TIMEOUT_S) -> str:
        """The first line on ``stream`` (read from now on) for which ``match`` is true."""
        ended: set[str] = set()
        while True:
            try:
                name, line = self._queue.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"no matching line on {stream} within {timeout_s} s: {self.lines}") from None
            if line is None:
                ended.add(name)
                if name == stream:
                    raise AssertionError(f"{stream} ended without a matching line: {self.lines}")
                continue
            if name == stream and match(line):
                return line

    def finish(self, timeout_s: float = LINE_TIMEOUT_S) -> tuple[int, str, str]:
        """Wait for the exit; ``(returncode, stdout, stderr)``."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        return code, "".join(self.lines["stdout"]), "".join(self.lines["stderr"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def console_script() -> str:
    """The installed ``clawlet-tui`` script (unlike ``python -m``, it does not put the cwd on sys.path)."""
    script = Path(sys.executable).with_name("clawlet-tui")
    if not script.exists():
        pytest.skip("clawlet-tui console script not installed next to this Python")
    return str(script)


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a child: its own TMPDIR (to find leftover L2 dirs), unbuffered output."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def spawn() -> object:
    """``spawn(argv, ...)`` -> :class:`Child`; every child still running at the end is killed."""
    children: list[Child] = []

    def start(argv: Sequence[str], **kwargs: object) -> Child:
        child = Child(argv, **kwargs)  # type: ignore[arg-type]
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


@pytest.fixture
def clawlet_script() -> str:
    """Path of the installed ``clawlet-tui`` console script."""
    return console_script()
