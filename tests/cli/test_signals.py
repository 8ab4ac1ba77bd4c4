"""SIGINT and SIGTERM end every command cleanly: run, serve and the dashboard (issue 14).

Real child processes and real signals; each test waits for a line the child prints once
it is really running before it signals.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CLI = [sys.executable, "-m", "clawlet_tui.cli"]

LONG_PRESET = """\
name = "long"
description = "test preset: an hour of a cheap model"
[engine]
batch_size = 4
max_concurrent = 2
[load]
rate_rps = 100
duration_s = 3600
[model]
kind = "latency"
fixed_ms = 1.0
per_item_ms = 0.1
"""

SMALL_MLP_PRESET = """\
name = "small"
description = "test preset: a small MLP"
[load]
rate_rps = 10
duration_s = 1
[model]
kind = "mlp"
layers = [8, 16, 8]
"""


def _l2_dirs(env: dict[str, str]) -> list[str]:
    return sorted(p.name for p in Path(env["TMPDIR"]).glob("clawlet-l2-*"))


@pytest.mark.parametrize(("sig", "code", "note"), [
    (signal.SIGTERM, 143, "Stopped by SIGTERM"),
    (signal.SIGINT, 130, "Interrupted with Ctrl+C"),
])
def test_run_stops_cleanly_on_a_signal_with_a_report(tmp_path, spawn, child_env, sig, code, note):
    preset = tmp_path / "long.toml"
    preset.write_text(LONG_PRESET, encoding="utf-8")
    child = spawn([*CLI, "run", "--preset", str(preset)], env=child_env, default_sigint=True)
    # a run longer than 5 minutes says how long at start ...
    plan = child.wait_for("stderr", lambda line: "this runs for" in line)
    assert "60 min" in plan and "--duration" in plan
    # ... and with stderr not a terminal, a progress summary as soon as the load flows
    child.wait_for("stderr", lambda line: " sent " in line and " done " in line)
    assert len(_l2_dirs(child_env)) == 1  # the run's temporary L2 exists now
    child.proc.send_signal(sig)
    returncode, out, err = child.finish()
    assert returncode == code, err
    assert "Traceback" not in err
    assert out.startswith("# clawlet-tui report: long (optimized)")
    assert note in out
    assert f"| Interrupted by | {signal.Signals(sig).name} |" in out
    assert "| In flight when interrupted |" in out
    assert _l2_dirs(child_env) == []  # removed


def _get(url: str, data: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_serve_uses_the_short_name_the_docs_curl_and_stops_on_sigterm(spawn, child_env):
    """``serve`` with no options serves the MLP as ``mlp``, the name every curl line of docs/remote.md uses."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "remote.md").read_text(encoding="utf-8")
    curl_names = set(re.findall(r"curl .*?/v2/models/([\w.-]+)", docs))
    assert curl_names == {"mlp"}

    child = spawn([*CLI, "serve", "--port", "0"], env=child_env)
    banner = child.wait_for("stdout", lambda line: line.startswith("clawlet-tui serve:"))
    match = re.match(r"clawlet-tui serve: mlp at (http://127\.0\.0\.1:\d+)/v2/models/mlp \(model mlp-512x", banner)
    assert match, banner
    url = match[1]
    status, meta = _get(f"{url}/v2/models/mlp")
    assert status == 200 and meta["inputs"][0]["shape"] == [-1, 512]
    # the docs' JSON infer request
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 512], "datatype": "FP32", "data": [0.5] * 512}]})
    status, answer = _get(f"{url}/v2/models/mlp/infer", body.encode())
    assert status == 200 and answer["model_name"] == "mlp" and answer["outputs"][0]["shape"] == [1, 512]
    child.proc.send_signal(signal.SIGTERM)
    returncode, _, err = child.finish()
    assert returncode == 143, err
    assert "Traceback" not in err


def test_serve_model_name_option_and_sigint(tmp_path, spawn, child_env):
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_MLP_PRESET, encoding="utf-8")
    child = spawn([*CLI, "serve", "--preset", str(preset), "--port", "0", "--model-name", "resnet"],
                  env=child_env, default_sigint=True)
    banner = child.wait_for("stdout", lambda line: line.startswith("clawlet-tui serve:"))
    assert re.match(r"clawlet-tui serve: resnet at http://127\.0\.0\.1:\d+/v2/models/resnet \(model mlp-8x16x8;", banner)
    url = banner.split(" at ")[1].split("/v2/")[0]
    assert _get(f"{url}/v2")[1]["models"] == ["resnet"]
    child.proc.send_signal(signal.SIGINT)
    returncode, _, err = child.finish()
    assert returncode == 130, err


def test_dashboard_quits_on_sigterm_and_restores_the_terminal(tmp_path, child_env):
    """In a real pseudo-terminal: the first frame is drawn, SIGTERM arrives, the app quits as with q."""
    preset = tmp_path / "long.toml"
    preset.write_text(LONG_PRESET, encoding="utf-8")
    env = {**child_env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, "--preset", str(preset)], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    output = b""
    ansi = re.compile(rb"\x1b\[[0-9;?<>=]*[a-zA-Z~]")

    def read_until(predicate, timeout_s: float = 60.0) -> bool:
        """Read the terminal until ``predicate(text without escapes)``, EOF, or ``timeout_s`` in all."""
        nonlocal output
        deadline = time.monotonic() + timeout_s
        while not predicate(ansi.sub(b"", output)):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([master], [], [], max(left, 0))
            if not ready:
                return False
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                return predicate(ansi.sub(b"", output))
            output += chunk
        return True

    try:
        # the dashboard is drawn and the engine running once the status bar says so
        assert read_until(lambda text: b"engine running" in text), ansi.sub(b"", output)[-2000:]
        assert len(_l2_dirs(child_env)) == 1
        mark = len(output)
        proc.send_signal(signal.SIGTERM)
        assert read_until(lambda text: b"in flight at quit" in text, timeout_s=60.0), ansi.sub(b"", output[mark:])[-2000:]
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    tail = output[mark:]
    assert b"\x1b[?1049l" in tail  # left the alternate screen: the terminal is restored
    assert b"in flight at quit" in ansi.sub(b"", tail)  # the quit summary, printed after the app ended
    assert b"Traceback" not in output
    assert _l2_dirs(child_env) == []


CHEAP_OPEN_PRESET = """\
name = "cheap"
description = "test preset: open loop on a cheap latency model"
slo_p99_ms = 500
[engine]
batch_size = 4
max_concurrent = 2
[load]
rate_rps = 100
duration_s = 3600
[model]
kind = "latency"
fixed_ms = 1.0
per_item_ms = 0.1
"""

#: each trial / rate: 0.1 s warm-up, then 0.2 s windows
QUICK = ["--warmup", "0.1", "--window", "0.2", "--max-windows", "3"]


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_capacity_stops_cleanly_on_a_signal_with_what_it_found(tmp_path, spawn, child_env, sig, code, name):
    preset = tmp_path / "cheap.toml"
    preset.write_text(CHEAP_OPEN_PRESET, encoding="utf-8")
    report = tmp_path / "capacity.json"
    child = spawn([*CLI, "capacity", str(preset), "--budget", "600", "--report", str(report), *QUICK],
                  env=child_env, default_sigint=True)
    # the first rate measured (100 req/s on a 1 ms model passes): the search is under way
    child.wait_for("stdout", lambda line: line.strip().startswith("1 start"))
    child.proc.send_signal(sig)
    returncode, out, err = child.finish()
    assert returncode == code, err
    assert "Traceback" not in err
    assert f"interrupted by {name}" in err
    assert "Capacity: at least" in out or "Capacity:" in out
    data = json.loads(report.read_text())
    assert data["interrupted"] and data["ended"] == "interrupted"
    assert data["steps"][0]["passed"] and data["capacity_rps"] is not None
    assert data["accounting"]["ok"]  # every request sent ended in one outcome: nothing lost
    assert _l2_dirs(child_env) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_tune_stops_cleanly_on_a_signal_with_the_best_so_far(tmp_path, spawn, child_env, sig, code):
    preset = tmp_path / "cheap.toml"
    preset.write_text(CHEAP_OPEN_PRESET, encoding="utf-8")
    out_file, report = tmp_path / "tuned.toml", tmp_path / "tune.json"
    child = spawn([*CLI, "tune", str(preset), "--budget", "600", "--params", "batch_size,max_concurrent",
                   "--out", str(out_file), "--report", str(report), *QUICK], env=child_env, default_sigint=True)
    child.wait_for("stdout", lambda line: line.strip().startswith("1 start"))
    child.proc.send_signal(sig)
    returncode, out, err = child.finish()
    assert returncode == code, err
    assert "Traceback" not in err
    assert "Interrupted: the figures above are the best found before the signal" in out
    data = json.loads(report.read_text())
    assert data["search"]["ended"] == "interrupted" and data["accounting"]["ok"]
    assert data["chosen"] is not None and out_file.exists()  # the start config met a 500 ms SLO: best so far
    assert _l2_dirs(child_env) == []
