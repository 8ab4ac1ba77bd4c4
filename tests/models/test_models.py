"""Models: MLP determinism and batch consistency, latency/faulty models, build_model, user functions."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from clawlet_tui.engine.errors import BackendError, ConfigError
from clawlet_tui.models import (
    FaultyModel,
    FunctionModel,
    InjectedFault,
    LatencyModel,
    MLPModel,
    Model,
    build_model,
    load_function_model,
)

LAYERS = (8, 16, 8)


def test_mlp_is_deterministic_across_instances():
    a, b = MLPModel(LAYERS, seed=3), MLPModel(LAYERS, seed=3)
    x = a.make_input(42)
    out_a, out_b = a.predict([x])[0], b.predict([x])[0]
    assert out_a.dtype == np.float32 and out_a.shape == (8,)
    np.testing.assert_array_equal(out_a, out_b)
    assert not np.allclose(MLPModel(LAYERS, seed=4).predict([x])[0], out_a)


def test_mlp_batch_output_equals_per_item_output():
    m = MLPModel(LAYERS)
    xs = [m.make_input(k) for k in range(13)]
    batched = m.predict(xs)
    assert len(batched) == 13
    for x, y in zip(xs, batched):
        np.testing.assert_allclose(y, m.predict([x])[0], rtol=1e-5, atol=1e-6)


def test_mlp_does_not_modify_its_inputs():
    m = MLPModel(LAYERS)
    x = m.make_input(1)
    before = x.copy()
    m.predict([x, x])
    np.testing.assert_array_equal(x, before)


def test_make_input_is_deterministic_per_key():
    for model in (MLPModel(LAYERS), LatencyModel(0, 0, dim=8), FunctionModel(lambda b: b, input_dim=8)):
        np.testing.assert_array_equal(model.make_input(5), model.make_input(5))
        assert not np.array_equal(model.make_input(5), model.make_input(6))
        assert model.make_input(5).shape == (8,) and model.make_input(5).dtype == np.float32
    np.testing.assert_array_equal(MLPModel(LAYERS).make_input(7), MLPModel(LAYERS).make_input(7))


def test_mlp_rejects_non_finite_input_and_bad_layers():
    m = MLPModel(LAYERS)
    bad = m.make_input(0)
    bad[2] = np.nan
    with pytest.raises(ValueError, match=r"positions \[1\]"):
        m.predict([m.make_input(1), bad])
    for layers in [(8,), (8, 0), (8, 2.0), (8, True)]:
        with pytest.raises(ConfigError):
            MLPModel(layers)


def test_models_follow_the_protocol():
    for model in (MLPModel(LAYERS), LatencyModel(0, 0), FunctionModel(lambda b: b), FaultyModel(LatencyModel(0, 0))):
        assert isinstance(model, Model)
        assert model.name and model.describe()


def test_latency_model_doubles_inputs():
    m = LatencyModel(fixed_ms=0, per_item_ms=0, dim=4)
    xs = [m.make_input(1), m.make_input(2)]
    for x, y in zip(xs, m.predict(xs)):
        np.testing.assert_array_equal(y, x * 2)
    with pytest.raises(ConfigError, match="fixed_ms must be a number >= 0, got -1"):
        LatencyModel(fixed_ms=-1)


def test_faulty_model_poison_and_errors():
    inner = MLPModel(LAYERS)
    f = FaultyModel(inner, poison_every=3)
    keys = [k for k in range(9) if FaultyModel.is_poison(f.make_input(k))]
    assert keys == [2, 5, 8]
    with pytest.raises(InjectedFault):
        f.predict([f.make_input(0), f.make_input(2)])
    np.testing.assert_array_equal(f.predict([f.make_input(0)])[0], inner.predict([inner.make_input(0)])[0])
    always = FaultyModel(inner, error_rate=1.0)
    with pytest.raises(InjectedFault):
        always.predict([inner.make_input(0)])
    for kwargs in [dict(error_rate=1.5), dict(spike_ms=-1), dict(poison_every=-1), dict(hang_rate=True)]:
        with pytest.raises(ConfigError):
            FaultyModel(inner, **kwargs)


def test_faulty_model_is_repeatable_per_seed():
    def pattern(seed):
        f = FaultyModel(LatencyModel(0, 0, dim=2), error_rate=0.5, seed=seed)
        out = []
        for k in range(30):
            try:
                f.predict([f.make_input(k)])
                out.append(True)
            except InjectedFault:
                out.append(False)
        return out

    assert pattern(1) == pattern(1) and pattern(1) != pattern(2)


# -- build_model ------------------------------------------------------------------------------


def test_build_model_default_and_kinds():
    assert isinstance(build_model(None), MLPModel)
    assert build_model({"kind": "mlp", "layers": [8, 4]}).layers == (8, 4)
    m = build_model({"kind": "latency", "fixed_ms": 1, "per_item_ms": 0.5, "dim": 3})
    assert isinstance(m, LatencyModel) and m.dim == 3
    f = build_model({"kind": "mlp", "layers": [8, 4], "faults": {"error_rate": 0.1, "poison_every": 5}})
    assert isinstance(f, FaultyModel) and f.poison_every == 5


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"kind": "gpu"}, "model.kind", "model.kind must be one of function, latency, mlp, onnx, got 'gpu'"),
        ({"kind": "mlp", "depth": 3}, "model.depth", "unknown field model.depth for kind 'mlp'"),
        ({"kind": "mlp", "layers": [8]}, "model.layers", "model.layers must be two or more positive integers, got [8]"),
        ({"kind": "latency", "fixed_ms": -1}, "model.fixed_ms", "model.fixed_ms must be a number >= 0, got -1"),
        ({"kind": "mlp", "faults": {"bogus": 1}}, "model.faults.bogus", None),
        ({"kind": "mlp", "faults": 3}, "model.faults", None),
        ({"kind": "function", "target": "nocolon"}, "model.target", None),
    ],
)
def test_build_model_errors_name_the_field(spec, field, message):
    with pytest.raises(ConfigError) as info:
        build_model(spec, source="presets/p.toml")
    assert info.value.field == field
    assert info.value.source == "presets/p.toml"
    assert str(info.value).startswith("presets/p.toml: ")
    assert field in str(info.value)
    if message is not None:
        assert str(info.value) == f"presets/p.toml: {message}"


def test_fault_parameter_errors_name_the_faults_table():
    with pytest.raises(ConfigError) as info:
        build_model({"kind": "mlp", "faults": {"error_rate": 2}})
    assert info.value.field == "model.faults.error_rate"


def test_missing_function_target_message_is_not_doubled():
    with pytest.raises(ConfigError) as info:
        build_model({"kind": "function"})
    assert str(info.value) == (
        "model.target (module:function) or model.path (a .py file) is required for kind 'function'"
    )


# -- user functions ------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write a module on sys.path; returns its (unique) name."""

    def make(source: str) -> str:
        name = f"clawlet_user_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path))
        return name

    return make


def test_load_sync_function(user_module):
    name = user_module(
        """
        def predict(batch):
            return [x + 1 for x in batch]
        """
    )
    model = load_function_model(f"{name}:predict", input_dim=5)
    assert model.name == f"{name}:predict"
    assert model.predict([1, 2]) == [2, 3]
    assert model.make_input(3).shape == (5,)


async def test_load_async_function_with_make_input(user_module):
    name = user_module(
        """
        import asyncio

        async def predict(batch):
            await asyncio.sleep(0)
            return [x * 10 for x in batch]

        def make_input(key):
            return key + 0.5
        """
    )
    model = build_model({"kind": "function", "target": f"{name}:predict"})
    assert asyncio.iscoroutinefunction(model.predict)
    assert await model.predict([1, 2]) == [10, 20]
    assert model.make_input(2) == 2.5


def test_function_output_length_is_checked():
    """A wrong count names the model, the batch size and the count, as a BadOutput (not split)."""
    with pytest.raises(BackendError, match=r"model f returned 1 outputs for a batch of 2") as info:
        FunctionModel(lambda b: b[:1], name="f").predict([1, 2])
    assert info.value.kind == "BadOutput"
    with pytest.raises(BackendError, match=r"model g returned NoneType for a batch of 3") as info:
        FunctionModel(lambda b: None, name="g").predict([1, 2, 3])
    assert info.value.kind == "BadOutput"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nocolon", "must look like package.module:function"),
        ("mod:", "must look like package.module:function"),
        (":fn", "must look like package.module:function"),
        ("clawlet_no_such_module_xyz:fn", "cannot import model module 'clawlet_no_such_module_xyz'"),
        ("os:no_such_function", r"module 'os' \(.*os.py\) has no callable 'no_such_function'"),
        ("os:sep", r"module 'os' \(.*os.py\) has no callable 'sep'"),
    ],
)
def test_bad_targets_are_config_errors(target, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_function_model(target)
    assert info.value.field == "target"


def test_input_bank_payloads_are_deterministic_and_distinct_per_key():
    from clawlet_tui.models.inputs import InputBank

    bank, again = InputBank(64, seed=3), InputBank(64, seed=3)
    keys = list(range(0, 20_000)) + [2**31 + 7, 2**32 - 1]
    seen = set()
    for key in keys:
        payload = bank.payload(key)
        assert payload.dtype == np.float32 and payload.shape == (64,)
        assert np.array_equal(payload, again.payload(key))
        seen.add(payload.tobytes())
    assert len(seen) == len(keys)
    assert not np.array_equal(InputBank(64, seed=4).payload(5), bank.payload(5))


# -- user models from the user's own folder (no PYTHONPATH) --------------------------------


def _write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _unique() -> str:
    return f"byo_{uuid.uuid4().hex[:8]}"


TIMES_TWO = """
def predict(batch):
    return [x * 2 for x in batch]

def triple(batch):
    return [x * 3 for x in batch]
"""


def test_target_is_found_next_to_the_preset_and_sys_path_is_left_alone(tmp_path):
    name = _unique()
    _write(tmp_path / "presets", f"{name}.py", TIMES_TWO)
    before = list(sys.path)
    model = build_model({"target": f"{name}:predict"}, source=str(_write(tmp_path / "presets", "p.toml", "")))
    assert isinstance(model, FunctionModel)  # kind = "function" inferred from target
    assert model.predict([1, 2]) == [2, 4]
    assert sys.path == before


def test_target_is_found_in_the_current_directory(tmp_path, monkeypatch):
    name = _unique()
    _write(tmp_path / "cwd", f"{name}.py", TIMES_TWO)
    monkeypatch.chdir(tmp_path / "cwd")
    assert build_model({"kind": "function", "target": f"{name}:triple"}).predict([1]) == [3]


def test_preset_folder_wins_over_the_current_directory(tmp_path, monkeypatch):
    name = _unique()
    _write(tmp_path / "presets", f"{name}.py", TIMES_TWO)
    _write(tmp_path / "cwd", f"{name}.py", "def predict(batch):\n    return ['cwd' for _ in batch]\n")
    monkeypatch.chdir(tmp_path / "cwd")
    assert load_function_model(f"{name}:predict", search_dirs=[tmp_path / "presets"]).predict([5]) == [10]


def test_a_module_imports_its_sibling_files(tmp_path):
    name, helper = _unique(), _unique()
    _write(tmp_path, f"{helper}.py", "FACTOR = 7\n")
    _write(tmp_path, f"{name}.py", f"from {helper} import FACTOR\ndef predict(batch):\n    return [x * FACTOR for x in batch]\n")
    assert load_function_model(f"{name}:predict", search_dirs=[tmp_path]).predict([1]) == [7]


def test_path_is_relative_to_the_preset_and_function_defaults_to_predict(tmp_path):
    name = _unique()
    _write(tmp_path / "models", f"{name}.py", TIMES_TWO)
    preset = _write(tmp_path, "p.toml", "")
    assert build_model({"path": f"./models/{name}.py"}, source=str(preset)).predict([4]) == [8]
    model = build_model({"kind": "function", "path": f"models/{name}.py", "function": "triple"}, base_dir=tmp_path)
    assert model.predict([4]) == [12]
    assert model.name == f"{name}:triple"


def test_two_folders_may_each_have_their_own_module_of_the_same_name(tmp_path):
    name = _unique()
    _write(tmp_path / "a", f"{name}.py", "def predict(batch):\n    return ['a' for _ in batch]\n")
    _write(tmp_path / "b", f"{name}.py", "def predict(batch):\n    return ['b' for _ in batch]\n")
    assert load_function_model(f"{name}:predict", search_dirs=[tmp_path / "a"]).predict([0]) == ["a"]
    assert load_function_model(f"{name}:predict", search_dirs=[tmp_path / "b"]).predict([0]) == ["b"]
    assert build_model({"path": str(tmp_path / "a" / f"{name}.py")}).predict([0]) == ["a"]


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"target": "json:predict"}, "model.target", "'json' is already the name of another module"),
        ({"path": "./nothere.py"}, "model.path", "no such file"),
        ({"path": "./model.txt"}, "model.path", "must be a .py file"),
        ({"path": "./m.py", "target": "m:predict"}, "model.target", "give one of model.target"),
        ({"target": "m:predict", "function": "f"}, "model.function", "only used with model.path"),
        ({"target": "clawlet_nowhere_xyz:predict"}, "model.target", "no clawlet_nowhere_xyz.py in"),
    ],
)
def test_user_model_errors_name_the_field(tmp_path, spec, field, message):
    _write(tmp_path, "json.py", TIMES_TWO)  # a user file named like a loaded module
    with pytest.raises(ConfigError, match=message) as info:
        build_model(spec, base_dir=tmp_path)
    assert info.value.field == field


def test_a_module_that_fails_to_import_names_the_line(tmp_path):
    name = _unique()
    _write(tmp_path, f"{name}.py", "import math\n\nVALUE = undefined_name\n")
    with pytest.raises(ConfigError) as info:
        build_model({"target": f"{name}:predict"}, base_dir=tmp_path)
    assert f"NameError: name 'undefined_name' is not defined ({name}.py:3 in <module>)" in str(info.value)
    _write(tmp_path, f"{name}b.py", "def predict(batch)\n    return batch\n")
    with pytest.raises(ConfigError, match=rf"SyntaxError: .* \({name}b.py:1\)"):
        build_model({"path": f"{name}b.py"}, base_dir=tmp_path)
