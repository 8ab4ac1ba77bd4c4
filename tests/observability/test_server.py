"""MetricsServer: /metrics over HTTP on a picked port, a clear error for a taken port,
the port free again after stop(), nothing written to the terminal."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from clawlet_tui.engine.errors import ClawletError
from clawlet_tui.engine.snapshot import MetricsSnapshot, Outcomes
from clawlet_tui.observability import MetricsServer, MetricsServerError

from .conftest import parse, sample


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def snapshot(ok: int = 5) -> MetricsSnapshot:
    return MetricsSnapshot(outcomes=Outcomes(submitted=ok + 1, succeeded=ok, failed=1))


def test_serves_metrics_on_a_picked_port_and_frees_it_on_stop() -> None:
    server = MetricsServer(0, lambda: snapshot(5))
    server.start()
    try:
        assert server.port != 0 and server.running
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        status, content_type, body = fetch(server.url)
    finally:
        server.stop()
    assert status == 200 and content_type.startswith("text/plain")
    families = parse(body)
    assert sample(families, "clawlet_requests", "clawlet_requests_total", outcome="ok") == 5
    assert sample(families, "clawlet_requests", "clawlet_requests_total", outcome="failed") == 1
    assert not server.running
    server.stop()  # twice is fine
    # the port is free: another server binds it at once
    with MetricsServer(server.port, lambda: snapshot(7)) as again:
        assert again.port == server.port
        assert sample(parse(fetch(again.url)[2]), "clawlet_requests", "clawlet_requests_total", outcome="ok") == 7
    with pytest.raises(OSError):
        fetch(server.url)


def test_a_port_in_use_is_a_one_line_error_with_exit_code_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(port, snapshot)
        with pytest.raises(MetricsServerError) as caught:
            server.start()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "already in use" in message and "\n" not in message
    assert isinstance(caught.value, ClawletError) and caught.value.exit_code == 1
    assert not server.running


@pytest.mark.parametrize("port", [-1, 65536, "9100", True])
def test_a_bad_port_number_is_refused(port) -> None:
    with pytest.raises(MetricsServerError, match="0 to 65535"):
        MetricsServer(port, snapshot)


def test_a_failing_source_writes_nothing_on_the_terminal(capfd) -> None:
    def broken():
        raise RuntimeError("no engine")

    with MetricsServer(0, broken) as server:
        status, _, body = fetch(server.url)
        families = parse(body)
    assert status == 200
    assert sample(families, "clawlet_exporter_snapshot_failures", "clawlet_exporter_snapshot_failures_total") == 1
    assert server.collector.last_error == "RuntimeError: no engine"
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_two_servers_in_one_process_serve_their_own_engine() -> None:
    with MetricsServer(0, lambda: snapshot(2)) as a, MetricsServer(0, lambda: snapshot(9)) as b:
        assert a.port != b.port
        ok_a = sample(parse(fetch(a.url)[2]), "clawlet_requests", "clawlet_requests_total", outcome="ok")
        ok_b = sample(parse(fetch(b.url)[2]), "clawlet_requests", "clawlet_requests_total", outcome="ok")
    assert (ok_a, ok_b) == (2, 9)
