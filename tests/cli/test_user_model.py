"""A user's own model, from a fresh folder, the way the README shows it (issue 14).

The README's "Your own model" files are read from the README itself and run with the
installed ``clawlet-tui`` script from a temporary directory with no ``PYTHONPATH``, so
the example and the behaviour cannot drift apart.  A failing model is visible: its first
error on the terminal (once), in the report, and exit code 3 when nothing succeeded.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> tuple[dict[str, str], list[str]]:
    """``({file name: text}, argv)`` from the README's "Your own model" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Your own model"):]
    section = section[: section.index("\n## ", 3)]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    files = {}
    command = None
    for lang, body in blocks:
        first = body.splitlines()[0]
        if lang in ("python", "toml") and first.startswith("# "):
            files[first[2:].strip()] = body
        elif lang == "sh":
            command = body.strip()
    assert set(files) == {"mymodel.py", "mymodel.toml"} and command is not None, (files, command)
    argv = shlex.split(command)
    assert argv[0] == "clawlet-tui" and "--duration" in argv
    return files, argv[1:]


def _env_without_pythonpath(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(tmp_path)
    return env


def test_readme_example_runs_from_a_fresh_folder_without_pythonpath(tmp_path, spawn, clawlet_script):
    files, args = _readme_example()
    lines = sum(body.count("\n") for body in files.values())
    assert lines <= 14, "the README example should stay about ten lines"
    project = tmp_path / "project"
    project.mkdir()
    for name, body in files.items():
        (project / name).write_text(body, encoding="utf-8")
    args[args.index("--duration") + 1] = "1"  # the README's command, shorter
    child = spawn([clawlet_script, *args, "--report", "r.json"], cwd=project, env=_env_without_pythonpath(tmp_path))
    code, out, err = child.finish()
    assert code == 0, err
    assert out.startswith("# clawlet-tui report: mymodel (optimized)")
    assert "| Success rate | 100.0% |" in out
    assert "| Model | user function mymodel:predict |" in out
    report = json.loads((project / "r.json").read_text(encoding="utf-8"))
    assert report["runs"][0]["sections"]["outcomes"]["metrics"]["failed"]["value"] == 0

    # from another folder: the module is found next to the preset, not in the current directory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    child = spawn([clawlet_script, "run", str(project / "mymodel.toml"), "--duration", "0.5"],
                  cwd=elsewhere, env=_env_without_pythonpath(tmp_path))
    code, out, err = child.finish()
    assert code == 0, err
    assert "| Success rate | 100.0% |" in out


BROKEN_MODEL = """\
import numpy as np

def predict(batch):
    raise ValueError("my model broke")
"""

SHORT_PRESET = """\
description = "a model that raises"
[load]
rate_rps = 100
duration_s = 1
[model]
path = "./broken.py"
"""


def test_a_failing_model_is_visible_and_the_run_exits_3(tmp_path, spawn, clawlet_script):
    (tmp_path / "broken.py").write_text(BROKEN_MODEL, encoding="utf-8")
    (tmp_path / "broken.toml").write_text(SHORT_PRESET, encoding="utf-8")
    child = spawn([clawlet_script, "run", "broken.toml", "--report", "r.json"], cwd=tmp_path,
                  env=_env_without_pythonpath(tmp_path))
    code, out, err = child.finish()
    assert code == 3, err
    assert "Traceback" not in err
    # on the terminal: once, with the message and the line of the user's file
    first = "clawlet-tui: first ValueError: my model broke (broken.py:4 in predict)\n"
    assert err.count(first) == 1, err
    assert err.count("my model broke") == 1
    assert err.rstrip().endswith("the first error of each kind is above)")
    assert "clawlet-tui: error: no request succeeded in the optimized run (100 failed of 100" in err
    # in the report, at the top and in the outcomes table
    assert "> **No request succeeded. The first error of each kind:**" in out
    assert "| First error: ValueError | ValueError: my model broke (broken.py:4 in predict) |" in out
    outcomes = json.loads((tmp_path / "r.json").read_text())["runs"][0]["sections"]["outcomes"]["metrics"]
    assert outcomes["first_error.ValueError"]["value"] == "ValueError: my model broke (broken.py:4 in predict)"


@pytest.mark.parametrize("returned", ["batch[:1]", "None"])
def test_a_wrong_output_count_names_model_batch_size_and_count(tmp_path, spawn, clawlet_script, returned):
    (tmp_path / "short.py").write_text(f"def predict(batch):\n    return {returned}\n", encoding="utf-8")
    (tmp_path / "short.toml").write_text(
        SHORT_PRESET.replace("broken.py", "short.py").replace("rate_rps = 100", "rate_rps = 400")
        + "[engine]\nbatch_size = 4\nbatch_policy = \"timeout\"\n",
        encoding="utf-8",
    )
    child = spawn([clawlet_script, "run", "short.toml", "--duration", "0.5"], cwd=tmp_path,
                  env=_env_without_pythonpath(tmp_path))
    code, out, err = child.finish()
    line = next(line for line in err.splitlines() if line.startswith("clawlet-tui: first BadOutput"))
    assert "model short:predict returned" in line and "for a batch of" in line
    if returned == "None":
        assert "returned NoneType" in line
    else:
        assert re.search(r"returned 1 outputs for a batch of [2-4]\b", line), line
