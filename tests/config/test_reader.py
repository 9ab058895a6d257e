import subprocess
from pathlib import Path

import pytest
import yaml

from sketch2face.config import ParamsError, load_params, parse_params

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}}


def test_committed_params_are_valid(tmp_path):
    """The params.yaml of the last commit (a user's uncommitted edits are the stages' to check)."""
    committed = subprocess.run(
        ["git", "show", "HEAD:params.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    )
    (tmp_path / "params.yaml").write_text(committed.stdout)
    assert load_params(tmp_path / "params.yaml").crop_resize.sources


def test_missing_sources_and_file_are_reported(tmp_path):
    with pytest.raises(ParamsError, match="crop_resize: required key is missing"):
        parse_params({})
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("train: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_duplicate_source_names_rejected(tmp_path):
    source = MINIMAL["crop_resize"]["sources"][0]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"crop_resize": {"sources": [source, source]}}))
    with pytest.raises(ParamsError, match="repeated: \\['demo'\\]"):
        load_params(path)


def test_empty_or_unreadable_params_file(tmp_path):
    (tmp_path / "params.yaml").write_text("")
    with pytest.raises(ParamsError, match=r"\(top level\): must be a mapping of keys .*got None"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ParamsError, match=r"folder.yaml: cannot read \(Is a directory\)"):
        load_params(tmp_path / "folder.yaml")


def test_a_key_given_twice_is_an_error_naming_it(tmp_path):
    """Plain YAML would keep the second value without a word."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "evaluate:\n  grid_size: 3\n  grid_size: 8\n")
    with pytest.raises(
        ParamsError,
        match=r'params.yaml: line 8: found duplicate key "grid_size" with value "8" \(original value: "3"\)',
    ):
        load_params(path)


def test_a_params_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"train:\n  lr: 0.0002 \xff\n")
    with pytest.raises(ParamsError, match=r"params.yaml: not UTF-8 text"):
        load_params(path)


def test_yaml_merge_keys_may_be_overridden_and_unhashable_keys_are_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "crop_resize:\n  sources:\n    - &demo {name: demo, kind: demo, root: data/demo}\n"
        "    - <<: *demo\n      name: again\n"
    )
    assert [source.name for source in load_params(path).crop_resize.sources] == ["demo", "again"]
    path.write_text("train:\n  ? [lr, beta1]\n  : 1\n")
    with pytest.raises(ParamsError, match=r"train: keys must be names, found \('lr', 'beta1'\)"):
        load_params(path)


def test_exponent_floats_read_as_numbers_as_dvc_reads_them(tmp_path):
    """YAML 1.2, as DVC reads it: `2e-4` is a number (YAML 1.1 made it a string, which strict params refuse)."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "train:\n  lr: 2e-4\n  lambda_l1: 1.0E2\n")
    train = load_params(path).train
    assert (train.lr, train.lambda_l1) == (2e-4, 100.0)
    path.write_text(yaml.safe_dump(MINIMAL) + "train:\n  lr: '2e-4'\n")
    with pytest.raises(ParamsError, match=r"train.lr: must be a number"):
        load_params(path)
