"""Presets: every shipped file loads, lookup order, and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.errors import PresetError
from clawlet_tui.load import LoadProfile, Preset, list_presets, load_preset, preset_dirs, preset_names
from clawlet_tui.models import FaultyModel

REPO_PRESETS = Path(__file__).resolve().parents[2] / "presets"
BAD = Path(__file__).resolve().parent / "bad_presets"

SHIPPED = {"seed-report", "steady", "ramp", "burst", "hot-keys", "overload", "soak", "faulty", "remote"}

#: bad preset file -> what its one-line error must contain (after "FILE: ")
BAD_PRESETS = {
    "syntax-error.toml": "line 3, column 12: invalid TOML: invalid value",
    "unknown-top-level.toml": "enigne: unknown field (did you mean 'engine'?)",
    "missing-description.toml": "description: is required",
    "missing-load.toml": "load: is required",
    "name-mismatch.toml": "name: 'steady' does not match the file name 'name-mismatch.toml'",
    "multiline-description.toml": "description: must be one line",
    "bad-slo.toml": "slo_p99_ms: must be a number > 0, got -3",
    "engine-unknown-field.toml": "engine.batch_sise: unknown field (did you mean 'batch_size'?)",
    "engine-out-of-range.toml": "engine.batch_size: must be >= 1, got 0",
    "engine-wrong-type.toml": "engine.enable_cache: must be true or false, got str 'yes'",
    "engine-not-table.toml": "engine: must be a table, got int",
    "load-unknown-field.toml": "load.rps: unknown field (did you mean 'rate_rps'?)",
    "load-wrong-type.toml": "load.rate_rps: must be a finite number, got 'fast'",
    "load-no-end.toml": "load.duration_s: is missing: set duration_s or requests",
    "load-bad-shape.toml": "load.shape: must be one of constant, poisson, ramp, step, sine, bursts, got 'square'",
    "load-bad-steps.toml": "load.steps: steps[1] must be a pair [at_s, rps] of numbers",
    "load-closed-with-rate.toml": "load.rate_rps: is for open loop, not mode 'closed'",
    "keys-bad-distribution.toml": "load.keys.distribution: must be one of unique, uniform, zipf, got 'pareto'",
    "keys-zero-count.toml": "load.keys.key_count: must be an integer >= 1, got 0",
    "model-bad-kind.toml": "model.kind: must be one of function, latency, mlp, onnx, got 'transformer'",
    "model-unknown-field.toml": "model.depth: unknown field for kind 'mlp'",
    "model-bad-fault.toml": "model.faults.error_rate: must be a number in [0, 1], got 2.0",
    "not-utf8.toml": "not UTF-8 text",
    "backend-bad-url.toml": "backend_url: must start with http:// or https://, got 'ftp://host:8000'",
    "backend-model-not-string.toml": "backend_model: must be a non-empty string, got 7",
    "backend-urls-bad-url.toml": "backend_urls[1]: must start with http:// or https://, got 'a:8001'",
    "backend-urls-and-url.toml": "backend_urls: give backend_url (one server) or backend_urls (several), not both",
    "backend-urls-not-list.toml": "backend_urls: must be a list of URL strings, got 'http://a:8000'",
    "backend-urls-twice.toml": "backend_urls[1]: 'http://a:8000' is listed twice",
    "alerts-bad-metric.toml": "alerts[2].metric: must be one of p99_ms, p50_ms, success_rate, error_rate, "
    "throughput, queue_depth, memory_usage, got 'p95_ms'",
    "alerts-rate-as-percent.toml": "alerts[1].below: success_rate is a fraction (0.99 = 99%): must be <= 1, got 99",
    "alerts-not-array.toml": "alerts: must be an array of tables ([[alerts]]), got dict",
}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Keep the user's own ~/.config presets and $CLAWLET_PRESETS_DIR out of these tests."""
    monkeypatch.delenv("CLAWLET_PRESETS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_every_shipped_preset_loads_and_is_valid():
    presets = {p.name: p for p in list_presets()}
    assert SHIPPED <= set(presets)
    for name in SHIPPED:
        preset = presets[name]
        assert isinstance(preset, Preset)
        # from the repo (editable install) or the copy packaged in the wheel: the same file
        assert preset.path.name == f"{name}.toml"
        assert preset.path.read_bytes() == (REPO_PRESETS / f"{name}.toml").read_bytes()
        assert preset.description and "\n" not in preset.description
        assert isinstance(preset.load, LoadProfile) and isinstance(preset.config, OptimizationConfig)
        assert preset.build_model().make_input(3) is not None
        assert preset == load_preset(name)


def test_shipped_presets_say_what_the_issue_asks():
    seed = load_preset("seed-report")
    assert (seed.config.batch_size, seed.config.batch_timeout_s, seed.config.l1_cache_size) == (4, 0.05, 100)
    assert seed.load.requests == 20 and seed.load.keys.distribution == "unique"
    assert len(list(seed.load.arrivals())) == 20
    steady = load_preset("steady")
    assert steady.load.shape == "poisson" and steady.load.keys.distribution == "zipf"
    hot = load_preset("hot-keys")
    assert (hot.load.keys.zipf_s, hot.load.keys.key_count) == (1.2, 500)
    overload = load_preset("overload")
    assert overload.load.rate_rps >= 5000 and overload.config.max_queue_size <= 1024
    faulty = load_preset("faulty").build_model()
    assert isinstance(faulty, FaultyModel)
    assert (faulty.error_rate, faulty.spike_rate, faulty.spike_ms, faulty.poison_every) == (0.02, 0.05, 150, 97)


def test_load_by_path_and_by_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "mine"\n[load]\nmode = "closed"\nconcurrency = 2\nrequests = 10\n', encoding="utf-8"
    )
    preset = load_preset(str(path))
    assert preset.name == "mine" and preset.path == path and preset.model_spec == {}
    assert load_preset(path) == preset
    assert preset.load.describe() == "closed loop, 2 clients, 10 requests, uniform over 1000 keys"


def test_env_dir_comes_first_and_shadows_shipped(tmp_path, monkeypatch):
    mine = tmp_path / "presets"
    mine.mkdir()
    (mine / "steady.toml").write_text('description = "my steady"\n[load]\nrate_rps = 1\nrequests = 1\n')
    monkeypatch.setenv("CLAWLET_PRESETS_DIR", str(mine))
    assert preset_dirs()[0] == mine
    assert any((d / "ramp.toml").is_file() for d in preset_dirs()[1:])  # the shipped ones follow
    assert load_preset("steady").description == "my steady"
    assert "ramp" in preset_names()


def test_user_config_dir_is_searched(tmp_path):
    user = tmp_path / "config" / "clawlet-tui" / "presets"
    user.mkdir(parents=True)
    (user / "extra.toml").write_text('description = "extra"\n[load]\nrate_rps = 1\nrequests = 1\n')
    assert load_preset("extra").path == user / "extra.toml"


def test_unknown_name_lists_available():
    with pytest.raises(PresetError) as info:
        load_preset("stedy")
    message = str(info.value)
    assert message.startswith("stedy: unknown preset (did you mean 'steady'? available: ")
    assert "hot-keys" in message and "\n" not in message


def test_missing_file():
    with pytest.raises(PresetError, match=r"nope\.toml: cannot read: No such file"):
        load_preset("/nonexistent/nope.toml")


def test_list_presets_skip_invalid(tmp_path, monkeypatch):
    mine = tmp_path / "presets"
    mine.mkdir()
    (mine / "broken.toml").write_text("description = \n")
    monkeypatch.setenv("CLAWLET_PRESETS_DIR", str(mine))
    with pytest.raises(PresetError, match="broken.toml: line 1"):
        list_presets()
    assert SHIPPED <= {p.name for p in list_presets(skip_invalid=True)}


def test_bad_corpus_is_covered():
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted(BAD_PRESETS)


@pytest.mark.parametrize("filename", sorted(BAD_PRESETS))
def test_bad_preset_gives_one_line_error(filename):
    path = BAD / filename
    with pytest.raises(PresetError) as info:
        load_preset(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert BAD_PRESETS[filename] in message, message


# -- a user's own model next to the preset (no PYTHONPATH) ---------------------------------

USER_PRESET = """\
description = "user model"
[load]
rate_rps = 10
duration_s = 1
[model]
{model}
"""


def _user_preset(folder: Path, model_lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mine.toml"
    path.write_text(USER_PRESET.format(model=model_lines), encoding="utf-8")
    return path


def test_a_preset_finds_the_model_file_next_to_it(tmp_path, monkeypatch):
    import uuid

    name = f"byo_{uuid.uuid4().hex[:8]}"
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / f"{name}.py").write_text("def predict(batch):\n    return [1 for _ in batch]\n")
    monkeypatch.chdir(tmp_path)  # the model is not in the current directory: only next to the preset
    for lines in (f'target = "{name}:predict"', f'path = "./{name}.py"'):
        preset = load_preset(str(_user_preset(tmp_path / "project", lines)))
        assert preset.build_model().predict([0, 0]) == [1, 1]


def test_a_missing_user_model_is_one_line_naming_file_and_field(tmp_path):
    path = _user_preset(tmp_path, 'target = "clawlet_absent_model:predict"')
    with pytest.raises(PresetError) as info:
        load_preset(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: model.target: cannot import model module 'clawlet_absent_model'")
    assert "\n" not in message and str(tmp_path) in message
