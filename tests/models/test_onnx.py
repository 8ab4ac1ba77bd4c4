"""The onnx model kind: ONNX Runtime running graphs built here with ``onnx.helper``.

The key check: the numpy MLP's own weights as an ONNX graph give the numpy MLP's outputs
(within 1e-5), through the model's shared session, a worker's own session and the engine.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto  # noqa: E402

from clawlet_tui.engine import ClawletEngine, OptimizationConfig  # noqa: E402
from clawlet_tui.engine.errors import ConfigError, PresetError  # noqa: E402
from clawlet_tui.load import load_preset  # noqa: E402
from clawlet_tui.models import MLPModel, build_model  # noqa: E402
from clawlet_tui.models.onnx import INSTALL_HINT, OnnxModel  # noqa: E402

from .onnx_graphs import identity_graph, mlp_graph, reference_inputs, save  # noqa: E402

LAYERS = (32, 64, 16, 8)


@pytest.fixture
def mlp() -> MLPModel:
    return MLPModel(LAYERS, seed=3)


@pytest.fixture
def mlp_file(tmp_path: Path, mlp: MLPModel) -> Path:
    return save(mlp_graph(mlp), tmp_path / "mlp.onnx")


@pytest.fixture
def fixed_file(tmp_path: Path, mlp: MLPModel) -> Path:
    return save(mlp_graph(mlp, batch=1), tmp_path / "fixed.onnx")


def _config(tmp_path: Path, **fields: object) -> OptimizationConfig:
    return OptimizationConfig(l2_cache_dir=str(tmp_path / "l2"), enable_l2=False, **fields)  # type: ignore[arg-type]


# -- the same function as the numpy MLP -----------------------------------------------------


@pytest.mark.parametrize("size", [1, 5, 32])
def test_the_mlp_as_onnx_equals_the_numpy_mlp(mlp: MLPModel, mlp_file: Path, size: int) -> None:
    model = build_model({"kind": "onnx", "path": str(mlp_file)})
    inputs = reference_inputs(mlp, size)
    expected = np.stack(mlp.predict(inputs))
    shared = np.stack(model.predict(inputs))
    own = np.stack(model.worker_predict(1)(inputs))  # type: ignore[attr-defined]
    assert shared.shape == expected.shape == (size, LAYERS[-1])
    np.testing.assert_allclose(shared, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(own, expected, rtol=0, atol=1e-5)


def test_the_input_spec_comes_from_the_model(mlp_file: Path) -> None:
    model = OnnxModel(mlp_file)
    assert (model.input.name, model.input.datatype, model.input.shape) == ("x", "FP32", ("batch", LAYERS[0]))
    assert (model.output_name, model.output_shape) == ("y", (LAYERS[-1],))
    assert model.max_batch_size is None and model.notice is None
    assert model.name == "mlp"
    payload = model.make_input(7)
    assert payload.shape == (LAYERS[0],) and payload.dtype == np.float32
    np.testing.assert_array_equal(payload, OnnxModel(mlp_file).make_input(7))  # seeded: the same every time
    assert not np.array_equal(payload, model.make_input(8))
    assert not np.array_equal(payload, OnnxModel(mlp_file, seed=1).make_input(7))
    assert "dynamic batch" in model.describe()


def test_inputs_from_a_npy_file_relative_to_the_preset(tmp_path: Path, mlp: MLPModel, mlp_file: Path) -> None:
    rows = np.stack(reference_inputs(mlp, 3)).astype(np.float64)
    np.save(tmp_path / "rows.npy", rows)
    model = build_model({"kind": "onnx", "path": "mlp.onnx", "inputs": "rows.npy"}, base_dir=tmp_path)
    for key in (0, 1, 2, 3, 7):
        np.testing.assert_array_equal(model.make_input(key), rows[key % 3].astype(np.float32))
    assert "inputs from rows.npy" in model.describe()


# -- a fixed batch of 1 ----------------------------------------------------------------------


def test_a_fixed_batch_of_one_says_so_and_still_answers_a_batch(mlp: MLPModel, fixed_file: Path) -> None:
    model = OnnxModel(fixed_file)
    assert model.max_batch_size == 1
    assert model.notice is not None and "\n" not in model.notice
    assert "fixed batch of 1" in model.notice and "batch_size forced to 1" in model.notice
    inputs = reference_inputs(mlp, 3)
    np.testing.assert_allclose(np.stack(model.predict(inputs)), np.stack(mlp.predict(inputs)), rtol=0, atol=1e-5)


async def test_the_engine_runs_a_fixed_batch_model_unbatched(tmp_path: Path, mlp: MLPModel, fixed_file: Path) -> None:
    model = OnnxModel(fixed_file)
    engine = ClawletEngine(_config(tmp_path, batch_size=8, enable_cache=False, max_concurrent=1), model=model)
    assert engine.config.batch_size == 1
    await engine.start()
    try:
        inputs = reference_inputs(mlp, 12)
        outputs = await asyncio.gather(*(engine.submit(x, key=k) for k, x in enumerate(inputs)))
        engine.update(batch_size=16)  # a live change cannot lift it either
        assert engine.config.batch_size == 1
        snapshot = engine.snapshot()
    finally:
        await engine.stop()
    np.testing.assert_allclose(np.stack(outputs), np.stack(mlp.predict(inputs)), rtol=0, atol=1e-5)
    assert snapshot.batches.size_histogram == ((1, 12),)
    assert any(e.kind == "model" and "fixed batch of 1" in e.message for e in snapshot.events)


async def test_the_engine_batches_a_dynamic_batch_model(tmp_path: Path, mlp: MLPModel, mlp_file: Path) -> None:
    engine = ClawletEngine(
        _config(tmp_path, batch_size=8, batch_timeout_s=1.0, enable_cache=False, max_concurrent=1),
        model=OnnxModel(mlp_file),
    )
    await engine.start()
    try:
        inputs = reference_inputs(mlp, 8)
        outputs = await asyncio.gather(*(engine.submit(x, key=k) for k, x in enumerate(inputs)))
        snapshot = engine.snapshot()
    finally:
        await engine.stop()
    np.testing.assert_allclose(np.stack(outputs), np.stack(mlp.predict(inputs)), rtol=0, atol=1e-5)
    assert snapshot.batches.size_histogram == ((8, 1),)


# -- one session per worker ------------------------------------------------------------------


async def test_each_worker_gets_its_own_session_with_blas_threads(
    tmp_path: Path, mlp: MLPModel, mlp_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[int, str]] = []
    real = OnnxModel._session

    def spy(self: OnnxModel, threads: int) -> object:
        made.append((threads, threading.current_thread().name))
        return real(self, threads)

    model = OnnxModel(mlp_file)  # its shared session is made before the spy
    monkeypatch.setattr(OnnxModel, "_session", spy)
    config = _config(tmp_path, batch_size=1, enable_cache=False, max_concurrent=2, blas_threads=2)
    engine = ClawletEngine(config, model=model)
    await engine.start()
    try:
        inputs = reference_inputs(mlp, 40)
        outputs = await asyncio.gather(*(engine.submit(x, key=k) for k, x in enumerate(inputs)))
        pool = engine.snapshot()
    finally:
        await engine.stop()
    np.testing.assert_allclose(np.stack(outputs), np.stack(mlp.predict(inputs)), rtol=0, atol=1e-5)
    created = pool.pool.created
    assert 1 <= created <= 2
    assert len(made) == created  # one session per worker, none per batch
    assert all(threads == 2 and name.startswith("clawlet-worker-") for threads, name in made)


# -- what is refused, in one line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "spec", "words"),
    [
        (identity_graph([4, 8]), {}, "a batch fixed at 4"),
        (identity_graph(["b", 8], inputs=2), {}, "has 2 inputs"),
        (identity_graph(["b", "n"]), {}, "dimensions after the batch axis must be fixed"),
        (identity_graph(["b", 8], TensorProto.INT64), {}, "generated inputs are floats only"),
        (identity_graph(["b", 8]), {"inputs": "bad.npy"}, "rows have shape [3]"),
    ],
)
def test_bad_models_are_one_clear_error(tmp_path: Path, graph: object, spec: dict[str, str], words: str) -> None:
    save(graph, tmp_path / "m.onnx")  # type: ignore[arg-type]
    np.save(tmp_path / "bad.npy", np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ConfigError) as caught:
        build_model({"kind": "onnx", "path": "m.onnx", **spec}, source=str(tmp_path / "p.toml"), base_dir=tmp_path)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.field in ("model.path", "model.inputs")


def test_a_missing_or_broken_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.path: no such file"):
        build_model({"kind": "onnx", "path": "absent.onnx"}, base_dir=tmp_path)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="is not a model ONNX Runtime can load"):
        build_model({"kind": "onnx", "path": "junk.onnx"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="required for kind 'onnx'"):
        build_model({"kind": "onnx"})


def test_a_path_ending_in_onnx_implies_the_kind(mlp_file: Path) -> None:
    assert isinstance(build_model({"path": str(mlp_file)}), OnnxModel)


def test_without_onnxruntime_a_preset_says_what_to_install(
    tmp_path: Path, mlp_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = tmp_path / "net.toml"
    preset.write_text(
        'description = "an onnx model"\n[load]\nrate_rps = 10\nduration_s = 1\n[model]\nkind = "onnx"\npath = "mlp.onnx"\n',
        encoding="utf-8",
    )
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(PresetError) as caught:
        load_preset(str(preset))
    assert str(caught.value) == (
        f"{preset}: model.kind: 'onnx' needs onnxruntime, which is not installed: {INSTALL_HINT}"
    )
    assert caught.value.exit_code == 2
