"""Stage scripts: a user's mistake is one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import python_path

from sketch2face.config import ParamsError
from sketch2face.data.images import ImageReadError
from sketch2face.data.records import SourceError
from sketch2face.io import OutputError
from sketch2face.stage import EXIT_USER_ERROR, TRACEBACK_VARIABLE, reported_errors

REPO = Path(__file__).resolve().parents[1]
MINIMAL_PARAMS = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}}
STAGE_ARGUMENTS = {
    "synthesize": ["out"],
    "crop_resize": ["out", "faces.json"],
    "assemble_pairs": ["faces", "pairs", "pairs.json"],
    "train": ["pairs", "models", "metrics"],
    "evaluate": ["models", "pairs", "metrics", "results"],
}


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ParamsError("params.yaml: 1 invalid value(s):\n  - train.lr: out of range"), "params.yaml: 1 invalid"),
        (SourceError("source 'x': root raw does not exist"), "source 'x': root raw"),
        (ImageReadError("a.png", "truncated image"), "a.png: truncated image"),
        (OutputError(errno.ENOSPC, "disk full", "metrics/eval.json"), "cannot write metrics/eval.json: disk full"),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "data/pairs/pairs.csv"),
            "data/pairs/pairs.csv: No such",
        ),
    ],
    ids=["params", "source", "image", "output", "missing input"],
)
def test_user_errors_exit_with_one_clear_message(error, message, capsys, monkeypatch):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as exit_, reported_errors("demo_stage"):
        raise error
    assert exit_.value.code == EXIT_USER_ERROR
    assert capsys.readouterr().err.startswith(f"demo_stage: error: {message}")


@pytest.mark.parametrize("error", [KeyError("bug"), OSError("no file named"), RuntimeError("bug")])
def test_bugs_keep_their_traceback(error):
    with pytest.raises(type(error)), reported_errors("demo_stage"):
        raise error


def test_traceback_on_request(monkeypatch):
    monkeypatch.setenv(TRACEBACK_VARIABLE, "1")
    with pytest.raises(ParamsError), reported_errors("demo_stage"):
        raise ParamsError("x")


@pytest.mark.parametrize("stage", list(STAGE_ARGUMENTS))
def test_every_stage_validates_the_whole_params_file_before_any_work(stage, tmp_path, complete_params):
    """A mistake in a section the stage does not use still stops it, cleanly, before it writes anything."""
    params = complete_params(MINIMAL_PARAMS)
    params["evaluate" if stage != "evaluate" else "synthesize"]["colour"] = "blue"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": python_path(REPO / "src"), "OMP_NUM_THREADS": "1"}
    env.pop(TRACEBACK_VARIABLE, None)
    result = subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{stage}.py"), *STAGE_ARGUMENTS[stage]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{stage}: error: params.yaml: 1 invalid value(s):")
    assert ".colour: unknown key" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]
