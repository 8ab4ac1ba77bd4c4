"""ConfigError's parts and the one rule checker every record validates with."""

from __future__ import annotations

import math
import pickle

import pytest

from clawlet_tui.engine.errors import ConfigError, PresetError, ThemeError
from clawlet_tui.engine.rules import Rule, did_you_mean, unknown_field
from clawlet_tui.load import LoadProfile


def test_config_error_keeps_field_reason_and_source_apart() -> None:
    exc = ConfigError(reason="must be >= 1, got 0", field="batch_size", source="--set")
    assert (exc.field, exc.reason, exc.source) == ("batch_size", "must be >= 1, got 0", "--set")
    assert str(exc) == "--set: batch_size must be >= 1, got 0"
    assert exc.message == "batch_size must be >= 1, got 0"
    in_file = PresetError(reason="must be one line", field="description", sep=": ", source="p.toml")
    assert str(in_file) == "p.toml: description: must be one line"
    no_field = ConfigError(reason="unknown config field 'x'", field="x", sep=None)
    assert str(no_field) == "unknown config field 'x'" and no_field.field == "x"


def test_the_older_whole_message_form_is_split_once_where_it_names_its_field() -> None:
    exc = ConfigError("zipf_s must be a number > 0, got 0", field="zipf_s", source="x.toml")
    assert exc.reason == "must be a number > 0, got 0" and str(exc) == "x.toml: zipf_s must be a number > 0, got 0"
    path = ThemeError("dark: must be true or false, got 'yes'", field="dark")
    assert path.reason == "must be true or false, got 'yes'" and path.sep == ": "
    other = ConfigError("cannot import model module 'm'", field="target")
    assert other.reason == str(other) == "cannot import model module 'm'"


def test_config_errors_survive_pickling_with_their_parts() -> None:
    exc = PresetError(reason="must be > 0, got -1", field="load.rate_rps", sep=": ", source="x.toml")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is PresetError and str(back) == str(exc)
    assert (back.field, back.reason, back.source, back.sep) == (exc.field, exc.reason, exc.source, exc.sep)


@pytest.mark.parametrize(
    ("rule", "value", "reason"),
    [
        (Rule(int, 1, 4096), 0, "must be >= 1, got 0"),
        (Rule(int, 1, 4096), 4097, "must be <= 4096, got 4097"),
        (Rule(int, 1), True, "must be an integer, got bool True"),
        (Rule(int, 1, typed=False), 2.5, "must be an integer, got 2.5"),
        (Rule(float, 0.0, above=True), 0, "must be > 0, got 0"),
        (Rule(float, 0.0, typed=False), "fast", "must be a finite number, got 'fast'"),
        (Rule(float, 0.0), "0.1", "must be a number, got str '0.1'"),
        (Rule(float), math.inf, "must be a finite number, got inf"),
        (Rule(float), None, "must be set, got None"),
        (Rule(str, choices=("a", "b")), "c", "must be one of a, b, got 'c'"),
        (Rule(object, choices=("a", "b")), 3, "must be one of a, b, got 3"),
        (Rule(str, optional=True, non_empty=True), " ", "must not be empty"),
        (Rule(int, 1, says="an integer >= 1"), "x", "must be an integer >= 1, got 'x'"),
    ],
)
def test_rule_reasons(rule: Rule, value: object, reason: str) -> None:
    assert rule.violation(value) == reason
    with pytest.raises(ConfigError) as info:
        rule.check("f", value)
    assert (info.value.field, info.value.reason, str(info.value)) == ("f", reason, f"f {reason}")


def test_rules_accept_and_store_floats_as_floats() -> None:
    assert Rule(float, 0.0).check("f", 2) == 2.0 and type(Rule(float).check("f", 2)) is float
    assert Rule(float, optional=True).check("f", None) is None
    assert type(LoadProfile(rate_rps=5, duration_s=1).rate_rps) is float


def test_did_you_mean_is_said_one_way() -> None:
    assert did_you_mean("batchsize", {"batch_size", "max_concurrent"}) == " (did you mean 'batch_size'?)"
    assert did_you_mean("zzz", {"b", "a"}) == " (known: a, b)"
    assert did_you_mean("rps", {"rate_rps"}, hints={"rps": "rate_rps"}) == " (did you mean 'rate_rps'?)"
    assert did_you_mean("batch_timeou", {"batch_timeout_s"}, also={"batch_timeout"}) == " (did you mean 'batch_timeout'?)"
    assert did_you_mean("stedy", {"steady", "burst"}, listed="available", always_list=True) == (
        " (did you mean 'steady'? available: burst, steady)"
    )
    assert unknown_field("enigne", {"engine", "load"}) == "unknown field (did you mean 'engine'?)"


def test_preset_errors_carry_the_rule_apart_from_the_path() -> None:
    with pytest.raises(PresetError) as info:
        LoadProfile.from_mapping({"rate_rps": -1, "duration_s": 1}, source="x.toml")
    assert (info.value.field, info.value.reason, info.value.source) == ("load.rate_rps", "must be > 0, got -1", "x.toml")
