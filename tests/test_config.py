from pathlib import Path

import pytest
import yaml

from sketch2face.config import ParamsError, load_params, parse_params

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}}


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.crop_resize.image_size == 64
    assert params.train.epochs == params.train.epochs_constant + params.train.epochs_decay


def test_defaults_follow_pix2pix():
    train = parse_params(MINIMAL).train
    assert (train.lr, train.beta1, train.lambda_l1) == (2e-4, 0.5, 100.0)


def test_every_bad_key_is_named_at_once():
    raw = {
        **MINIMAL,
        "train": {"lr": -1, "learning_rate": 0.1},
        "evaluate": {"ssim_window": "box"},
    }
    with pytest.raises(ParamsError) as error:
        parse_params(raw, origin="params.yaml")
    message = str(error.value)
    assert "3 invalid value(s)" in message
    assert "train.lr" in message and "greater than 0" in message
    assert "train.learning_rate: unknown key" in message
    assert "evaluate.ssim_window" in message and "'gaussian'" in message


def test_image_size_must_suit_the_unet():
    raw = {"crop_resize": {**MINIMAL["crop_resize"], "image_size": 100}}
    with pytest.raises(ParamsError, match="power of two"):
        parse_params(raw)


def test_splits_must_leave_training_data():
    with pytest.raises(ParamsError, match="val_fraction \\+ test_fraction"):
        parse_params({**MINIMAL, "assemble_pairs": {"val_fraction": 0.5, "test_fraction": 0.5}})


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


@pytest.mark.parametrize(
    "tracking, problem",
    [
        ({"alias": "champion"}, "alias needs register_name"),
        ({"register_name": "faces", "alias": "v2"}, "reserved"),
        ({"register_name": "faces", "alias": "Latest"}, "reserved"),
        ({"register_name": "a/b"}, "tracking.register_name"),
        ({"register_name": "faces", "log_model": False}, "register_name needs log_model"),
    ],
)
def test_model_registration_settings_are_checked(tracking, problem):
    with pytest.raises(ParamsError, match=problem):
        parse_params({**MINIMAL, "tracking": tracking})
    assert parse_params(MINIMAL).tracking.register_name is None, "registration is off by default"
