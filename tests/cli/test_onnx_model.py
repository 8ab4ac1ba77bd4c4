"""The onnx model kind from the command line: a preset naming an .onnx file, and ``--model``.

Runs go through ``cli.main(argv)`` in-process with short loads; the ONNX graphs are the
numpy MLP's weights, built at test time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from models.onnx_graphs import mlp_graph, save  # noqa: E402

from clawlet_tui import cli  # noqa: E402
from clawlet_tui.models import MLPModel  # noqa: E402
from clawlet_tui.models.onnx import INSTALL_HINT  # noqa: E402

PRESET = """\
description = "an ONNX MLP, 200 req/s"
[engine]
batch_size = 8
max_concurrent = 2
enable_l2 = false
[load]
mode = "open"
shape = "constant"
rate_rps = 200
duration_s = 0.4
[model]
kind = "onnx"
path = "models/net.onnx"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    save(mlp_graph(MLPModel((16, 32, 8))), tmp_path / "models" / "net.onnx")
    save(mlp_graph(MLPModel((16, 32, 8)), batch=1), tmp_path / "fixed.onnx")
    (tmp_path / "net.toml").write_text(PRESET, encoding="utf-8")
    return tmp_path


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_preset_with_kind_onnx_runs_end_to_end(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = _main(capsys, "run", str(folder / "net.toml"))
    assert code == 0, err
    assert "| Success rate | 100.0% |" in out
    assert "ONNX model net.onnx (x FP32 [batch, 16] -> y [batch, 8], dynamic batch)" in out
    assert "| Batch size limit | 8 |" in out


def test_model_runs_a_file_with_the_default_preset(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = _main(capsys, "run", "--model", str(folder / "models" / "net.onnx"), "--duration", "0.3")
    assert code == 0, err
    assert out.startswith(f"# clawlet-tui report: {cli.DEFAULT_PRESET} (optimized)")
    assert "ONNX model net.onnx" in out


def test_a_fixed_batch_model_is_told_once_and_runs_unbatched(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = _main(
        capsys, "run", str(folder / "net.toml"), "--model", str(folder / "fixed.onnx"), "--set", "batch_size=16"
    )
    assert code == 0, err
    notices = [line for line in err.splitlines() if "fixed batch of 1" in line]
    assert notices == [
        "clawlet-tui: fixed.onnx: input 'x' has a fixed batch of 1 (shape [1, 16]), so it runs unbatched "
        "(batch_size forced to 1); export it with a dynamic batch axis to batch"
    ]
    assert "| Batch size limit | 1 |" in out
    assert "| Mean batch size | 1.00 |" in out


def test_compare_takes_model(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = _main(
        capsys, "compare", str(folder / "net.toml"), "--model", str(folder / "models" / "net.onnx"), "--duration", "0.3"
    )
    assert code == 0, err
    assert "baseline" in out.lower() and "optimized" in out.lower()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--model", "net.pt"], "clawlet-tui: error: --model: must be an .onnx file, got 'net.pt'"),
        (["run", "--model", "absent.onnx"], "clawlet-tui: error: --model: no such file: "),
        (
            ["run", "--model", "models/net.onnx", "--backend", "http://127.0.0.1:9"],
            "clawlet-tui: error: --model: give --model (run it here) or --backend (run it there), not both",
        ),
    ],
)
def test_bad_model_arguments_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], folder: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(folder)
    code, out, err = _main(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message), err


def test_without_onnxruntime_the_run_says_what_to_install(
    capsys: pytest.CaptureFixture[str], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, out, err = _main(capsys, "run", str(folder / "net.toml"))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"clawlet-tui: error: {folder / 'net.toml'}: model.kind: 'onnx' needs onnxruntime, which is not installed: "
        f"{INSTALL_HINT}"
    ]


def test_serve_names_an_onnx_model_after_its_file() -> None:
    assert cli.default_served_name({"kind": "onnx", "path": "models/resnet-tiny.onnx"}) == "resnet-tiny"
