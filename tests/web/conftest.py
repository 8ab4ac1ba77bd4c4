"""Helpers for the web view's tests: a ``clawlet-tui web`` child, and headless Chromium
driven over its DevTools protocol.

Everything waits on an event with a bounded timeout (the server's announce line, the
page's terminal having painted), never on a fixed sleep.  Chromium is driven over the
DevTools protocol rather than ``chromium --screenshot --virtual-time-budget``: the
dashboard reaches the page over a websocket in real time, and a virtual-time screenshot
is taken before the terminal paints (clawlet_tui/web/server.py, "Headless browsers").

``python tests/web/conftest.py URL OUT.png`` takes the same screenshot by hand.
"""

from __future__ import annotations

import asyncio
import base64
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: seconds to wait for the server's announce line, a dashboard's first screen, a process's exit
TIMEOUT_S = 120.0
#: seconds between two looks at the page while waiting for its terminal to paint
POLL_S = 0.2
#: JavaScript: how many pixels of the terminal's canvases are not black (0 before it paints)
PAINTED_PIXELS_JS = """
(() => {
  if (!document.body.classList.contains("-first-byte")) return 0;
  let painted = 0;
  for (const canvas of document.querySelectorAll(".xterm-screen canvas")) {
    if (!canvas.width || !canvas.height) continue;
    const copy = document.createElement("canvas");
    copy.width = canvas.width; copy.height = canvas.height;
    const context = copy.getContext("2d");
    context.drawImage(canvas, 0, 0);
    const data = context.getImageData(0, 0, copy.width, copy.height).data;
    for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] > 0) painted++;
  }
  return painted;
})()
"""


def chromium_path() -> str | None:
    """Debian's ``chromium`` (or Chrome's) binary, None when neither is installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class WebServer:
    """``python -m clawlet_tui web --port 0 ...`` as a child; :attr:`url` once it listens."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clawlet_tui", "web", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=env, start_new_session=True,  # its own group: a signal to the tests never reaches it
        )
        self.stderr: list[str] = []
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout, lines), daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        try:
            line = lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"clawlet-tui web did not announce itself within {TIMEOUT_S} s") from None
        if line is None or " at http://" not in line:
            self.stop()
            raise AssertionError(f"clawlet-tui web did not start: {line!r}; stderr: {''.join(self.stderr)}")
        self.announce = line
        self.url = line.split(" at ", 1)[1].split()[0]

    @staticmethod
    def _read(stream: Any, lines: queue.Queue[str | None]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def descendants(self) -> list[int]:
        """Process ids of everything the server started that still runs (its dashboards, their engines)."""
        import psutil

        try:
            return [child.pid for child in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_until_no_dashboards(self) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while self.descendants():
            if time.monotonic() > deadline:
                raise AssertionError(f"dashboards still running after {TIMEOUT_S} s: {self.descendants()}")
            time.sleep(POLL_S)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@dataclass
class PageVisit:
    """What headless Chromium saw: every URL the page requested, the text of the
    websocket's screen updates (without control sequences), and how many pixels of the
    terminal were painted."""

    requests: list[str] = field(default_factory=list)
    screen_text: str = ""
    painted_pixels: int = 0


#: a screen whose header counts requests sent: the load flows and the panels have figures
LOAD_FLOWS = re.compile(r"sent [1-9]")
#: control sequences (colours, cursor moves), dropped from :attr:`PageVisit.screen_text`
_CONTROL = re.compile(r"\x1b\[[0-9;?$]*[A-Za-z]|\x1b\][^\x07]*\x07")


def screenshot_when_painted(
    url: str, out: Path, width: int = 1600, height: int = 1000, until: re.Pattern[str] = LOAD_FLOWS
) -> PageVisit:
    """Open ``url`` in headless Chromium; once a screen matching ``until`` has come over
    the websocket and the terminal has painted since (bounded waits), save a PNG of the
    page to ``out``."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    return asyncio.run(_visit(binary, url, out, width, height, until))


async def _visit(binary: str, url: str, out: Path, width: int, height: int, until: re.Pattern[str]) -> PageVisit:
    import aiohttp

    profile = tempfile.mkdtemp(prefix="clawlet-chromium-")
    browser = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port = await _devtools_port(Path(profile) / "DevToolsActivePort", browser)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as devtools:
                return await _drive(_DevTools(devtools), url, out, width, height, until)
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=30)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _devtools_port(path: Path, browser: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it picked to DevToolsActivePort once it listens."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise AssertionError(f"chromium exited with {browser.returncode} before listening")
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return int(text.split()[0])
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"chromium did not open its DevTools port within {TIMEOUT_S} s")


class _DevTools:
    """Calls over one DevTools websocket; events seen meanwhile are kept in :attr:`visit`."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.visit = PageVisit()
        self._next_id = 0
        self._screens: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        await self.socket.send_json({"id": call_id, "method": method, "params": params})
        async for message in self.socket:
            reply = message.json()
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self._event(reply)
        raise AssertionError(f"DevTools closed during {method}")

    def _event(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.visit.requests.append(params["request"]["url"])
        elif method == "Network.webSocketCreated":
            self.visit.requests.append(params["url"])
        elif method == "Network.webSocketFrameReceived":
            frame = params["response"]
            data = frame["payloadData"]
            if frame.get("opcode") == 2:  # binary: base64
                data = base64.b64decode(data).decode("utf-8", "replace")
            self._screens.append(_CONTROL.sub("", data))
            self.visit.screen_text = "".join(self._screens)


async def _drive(
    devtools: _DevTools, url: str, out: Path, width: int, height: int, until: re.Pattern[str]
) -> PageVisit:
    await devtools.call("Network.enable")
    await devtools.call("Page.enable")
    await devtools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    await devtools.call("Page.navigate", url=url)
    deadline = time.monotonic() + TIMEOUT_S
    arrived = False  # the screen ``until`` looks for had come at the previous look
    while True:
        result = await devtools.call("Runtime.evaluate", expression=PAINTED_PIXELS_JS, returnByValue=True)
        painted = int(result.get("result", {}).get("value") or 0)
        if painted and arrived:  # it came one look ago: the terminal has painted it since
            break
        arrived = until.search(devtools.visit.screen_text) is not None
        if time.monotonic() > deadline:
            raise AssertionError(f"the terminal did not paint {until.pattern!r} within {TIMEOUT_S} s")
        await asyncio.sleep(POLL_S)
    devtools.visit.painted_pixels = painted
    shot = await devtools.call("Page.captureScreenshot", format="png")
    out.write_bytes(base64.b64decode(shot["data"]))
    return devtools.visit


def web_server_env(tmp: Path) -> dict[str, str]:
    """The server's environment: its own TMPDIR (to find leftover L2 directories), unbuffered output."""
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


def running_server(tmp: Path, *args: str) -> Iterator[WebServer]:
    tmp.mkdir(exist_ok=True)
    server = WebServer(*args, env=web_server_env(tmp))
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":  # python tests/web/conftest.py URL OUT.png
    visit = screenshot_when_painted(sys.argv[1], Path(sys.argv[2]))
    print(f"{sys.argv[2]}: {visit.painted_pixels} pixels painted; requests: {sorted(set(visit.requests))}")
