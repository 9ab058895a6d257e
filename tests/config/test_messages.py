import pytest

from sketch2face.config import Params, ParamsError, TrainParams, parse_params

MINIMAL = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}}


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
    assert "train.lr: out of range, allowed: > 0.0 and <= 1.0 (got -1)" in message
    assert "train.learning_rate: unknown key" in message
    assert "evaluate.ssim_window" in message and "'gaussian'" in message


def _problems(raw: object) -> list[str]:
    with pytest.raises(ParamsError) as error:
        parse_params(raw, origin="params.yaml")
    return [line.removeprefix("  - ") for line in str(error.value).splitlines()[1:]]


def test_each_kind_of_mistake_says_what_is_allowed():
    raw = {
        "synthesize": {"image_size": "big"},
        "crop_resize": {**MINIMAL["crop_resize"], "image_size": 48},
        "train": {"dropout": "maybe", "input_channels": 2, "batch_size": 0, "epoch_decay": 3},
        "evaluate": [1],
        "tain": {},
    }
    assert sorted(_problems(raw)) == sorted(
        [
            "synthesize.image_size: must be an integer >= 32 and <= 1024 (got 'big')",
            "crop_resize.image_size: must be a power of two (the U-Net halves it down to 1x1) (got 48)",
            "train.dropout: must be true or false (got 'maybe')",
            "train.input_channels: must be one of 1 or 3 (got 2)",
            "train.batch_size: out of range, allowed: >= 1 (got 0)",
            "train.epoch_decay: unknown key (did you mean 'epochs_decay'?); allowed keys: "
            + ", ".join(TrainParams.model_fields),
            "evaluate: must be a mapping of keys (a section) (got [1])",
            "tain: unknown key (did you mean 'train'?); allowed keys: " + ", ".join(Params.model_fields),
        ]
    )


def test_a_misspelt_group_attribute_is_an_error_not_a_group_silently_missing():
    raw = {**MINIMAL, "evaluate": {"group_attributes": ["gendr", "source"]}}
    [problem] = _problems(raw)
    assert problem.startswith("evaluate.group_attributes.0: must be one of 'source', 'subset', 'gender'")
    assert problem.endswith("(got 'gendr')")


def test_bad_source_entries_are_named_by_position_without_follow_on_noise():
    raw = {"crop_resize": {"sources": [{"name": "my faces", "kind": "zip", "root": "x", "roots": "y"}]}}
    assert _problems(raw) == [
        "crop_resize.sources.0.name: must match the pattern ^[A-Za-z0-9_-]+$ (got 'my faces')",
        "crop_resize.sources.0.kind: must be one of 'demo', 'pairs', 'cufs', 'cufsf' or 'aligned' (got 'zip')",
        "crop_resize.sources.0.roots: unknown key (did you mean 'root'?); allowed keys: name, kind, root, photos_root, sketch_side",
    ]
    assert _problems({"crop_resize": {"sources": []}}) == ["crop_resize.sources: must have at least 1 item(s) (got [])"]


def test_cross_field_errors_come_with_the_field_errors():
    raw = {
        **MINIMAL,
        "assemble_pairs": {"val_fraction": 0.6, "test_fraction": 0.5},
        "train": {"epochs_constant": 0, "epochs_decay": 0, "lr": 2},
    }
    assert _problems(raw) == [
        "assemble_pairs: val_fraction + test_fraction must be < 1 so that training data remains, got 0.6 + 0.5",
        "train.lr: out of range, allowed: > 0.0 and <= 1.0 (got 2)",
    ]
    assert _problems({**MINIMAL, "train": {"epochs_constant": 0, "epochs_decay": 0}}) == [
        "train: epochs_constant + epochs_decay must be at least 1"
    ]
    assert _problems({**MINIMAL, "train": {"lr_policy": "step", "lr_step_epochs": 10, "epochs_decay": 10}}) == [
        (
            "train: lr_policy step drops the lr after each lr_step_epochs (10) decay epochs, "
            "so lr_step_epochs must be < epochs_decay (10) for the lr to decay at all"
        )
    ]


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("synthesize", "count", True, "synthesize.count: must be an integer >= 1 (got True)"),
        ("train", "epochs_decay", True, "train.epochs_decay: must be an integer >= 0 (got True)"),
        ("train", "dropout", 0, "train.dropout: must be true or false (got 0)"),
        ("train", "batch_size", "4", "train.batch_size: must be an integer >= 1 (got '4')"),
        ("train", "lambda_l1", float("inf"), "train.lambda_l1: must be a finite number >= 0.0 (got inf)"),
        ("train", "lr", float("nan"), "train.lr: must be a finite number"),
        ("train", "seed", -1, "train.seed: out of range, allowed: >= 0"),
        ("assemble_pairs", "seed", 1.5, "assemble_pairs.seed: must be an integer"),
        ("train", "input_channels", True, "train.input_channels: must be an integer (got True)"),
        ("train", "resnet_blocks", 9.0, "train.resnet_blocks: must be an integer (got 9.0)"),
    ],
)
def test_values_are_not_coerced_from_another_type(section, key, value, problem):
    """YAML's true is not 1, 0 is not false, '4' is not 4: each is named as the mistake it likely is."""
    with pytest.raises(ParamsError) as error:
        parse_params({**MINIMAL, section: {key: value}})
    assert problem in str(error.value)


@pytest.mark.parametrize(
    ("image_size", "train", "problem"),
    [
        (
            32,
            {"n_layers_d": 4},
            ("crop_resize.image_size 32 is too small for a PatchGAN with train.n_layers_d=4: it needs at least 48"),
        ),
        (
            64,
            {"n_layers_d": 5},
            ("crop_resize.image_size 64 is too small for a PatchGAN with train.n_layers_d=5: it needs at least 96"),
        ),
        (32, {"n_layers_d": 3}, None),
        (64, {"n_layers_d": 4}, None),
        (32, {"discriminator": "pixel", "n_layers_d": 6}, None),
    ],
)
def test_image_size_must_suit_the_discriminator(image_size, train, problem):
    raw = {"crop_resize": {**MINIMAL["crop_resize"], "image_size": image_size}, "train": train}
    if problem is None:
        assert parse_params(raw).crop_resize.image_size == image_size
    else:
        assert _problems(raw) == [f"(top level): {problem}"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"kind": "pairs", "photos_root": "feret"}, "photos_root is only used by kind cufsf"),
        ({"kind": "cufsf"}, "kind cufsf needs photos_root (the colorFERET folder)"),
        ({"kind": "cufs", "sketch_side": "left"}, "sketch_side is only used by kind aligned"),
        ({"kind": "cufsf", "photos_root": "feret"}, None),
        ({"kind": "aligned", "sketch_side": "right"}, None),
    ],
)
def test_source_keys_belong_to_their_kind(source, problem):
    raw = {"crop_resize": {"sources": [{"name": "faces", "root": "data/faces", **source}]}}
    if problem is None:
        assert parse_params(raw).crop_resize.sources[0].kind == source["kind"]
    else:
        assert _problems(raw) == [f"crop_resize.sources.0: source 'faces': {problem}"]
