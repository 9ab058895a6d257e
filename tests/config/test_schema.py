import re
from pathlib import Path

import pytest

from sketch2face.config import HINT_NAMES, PAPER_PIX2PIX, ParamsError, TrainParams, load_params, parse_params
from sketch2face.config.reader import read_yaml
from sketch2face.models.generator import GeneratorConfig

REPO = Path(__file__).resolve().parents[2]

MINIMAL = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}}


def test_epochs_count_the_constant_and_the_decay_epochs():
    assert parse_params({**MINIMAL, "train": {"epochs_constant": 3, "epochs_decay": 4}}).train.epochs == 7
    assert parse_params(MINIMAL).train.epochs == 30


def test_defaults_follow_pix2pix():
    train = parse_params(MINIMAL).train
    assert (train.lr, train.beta1, train.lambda_l1) == (2e-4, 0.5, 100.0)


def test_the_committed_params_file_spells_out_exactly_the_schema_defaults():
    """The schema is the one source of defaults: params.yaml holds the same values, so that
    `dvc params diff` and `dvc exp show` show every setting and none differs from the code's."""
    committed = load_params(REPO / "params.yaml")
    defaults = parse_params({"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "data/demo"}]}})
    assert committed == defaults
    written = read_yaml(REPO / "params.yaml")
    for section, values in defaults.model_dump(exclude={"crop_resize": {"sources"}}).items():
        assert set(written[section]) - {"sources"} == set(values), (
            f"params.yaml's {section} must list every key of the schema"
        )
    # a generator file's config defaults to what files meant before a field existed: transposed, no hints
    expected = GeneratorConfig(image_size=64, upsample="resize", hints=HINT_NAMES)
    assert expected == GeneratorConfig.from_params(defaults.train, 64)


def test_image_size_must_suit_the_unet():
    raw = {"crop_resize": {**MINIMAL["crop_resize"], "image_size": 100}}
    with pytest.raises(ParamsError, match="power of two"):
        parse_params(raw)


def test_splits_must_leave_training_data():
    with pytest.raises(ParamsError, match="val_fraction \\+ test_fraction"):
        parse_params({**MINIMAL, "assemble_pairs": {"val_fraction": 0.5, "test_fraction": 0.5}})


@pytest.mark.parametrize(
    ("tracking", "problem"),
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


@pytest.mark.parametrize(
    ("train", "minimum"),
    [
        ({}, 24),
        ({"n_layers_d": 1}, 6),
        ({"n_layers_d": 6}, 192),
        ({"discriminator": "pixel", "n_layers_d": 6}, 4),
    ],
)
def test_min_image_size_follows_the_patchgan_depth(train, minimum):
    assert TrainParams(**train).min_image_size == minimum


def test_numbers_paths_and_lists_still_parse_from_yaml():
    params = parse_params({**MINIMAL, "train": {"lr": 1, "seed": 7}, "evaluate": {"group_attributes": ["gender"]}})
    assert (params.train.lr, params.train.seed, params.evaluate.group_attributes) == (1.0, 7, ("gender",))
    assert params.crop_resize.sources[0].root == Path("data/demo")


def test_an_empty_source_root_is_an_error():
    raw = {"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": " "}]}}
    with pytest.raises(ParamsError, match=r"crop_resize.sources.0.root: must be a folder path, got an empty string"):
        parse_params(raw)


def test_the_shortest_image_side_is_optional_and_checked():
    assert parse_params(MINIMAL).crop_resize.min_image_side is None  # then a quarter of image_size

    def with_side(value) -> dict:
        return {"crop_resize": {**MINIMAL["crop_resize"], "min_image_side": value}}

    assert parse_params(with_side(24)).crop_resize.min_image_side == 24
    for bad, problem in ((4, "out of range, allowed: >= 8 and <= 8000 (got 4)"), (True, "must be an integer")):
        with pytest.raises(ParamsError, match=re.escape(f"crop_resize.min_image_side: {problem}")):
            parse_params(with_side(bad))


def test_options_beyond_the_paper_default_to_the_recipe_and_are_checked():
    train = parse_params(MINIMAL).train
    assert (train.upsample, train.ema_decay, train.discriminator_scales, train.spectral_norm) == (
        "resize",
        0.995,
        1,
        False,
    )
    assert (train.lambda_feature_matching, train.lambda_ssim) == (0.0, 10.0)
    assert train.augment_d == ("translation", "cutout", "colour")
    paper = parse_params({**MINIMAL, "train": {**PAPER_PIX2PIX, "augment_d": []}}).train
    assert {key: getattr(paper, key) for key in PAPER_PIX2PIX} == PAPER_PIX2PIX
    with pytest.raises(ParamsError, match=r"train.augment_d: each may be named once"):
        parse_params({**MINIMAL, "train": {"augment_d": ["cutout", "cutout"]}})
    with pytest.raises(ParamsError, match=r"train.ema_decay: out of range"):
        parse_params({**MINIMAL, "train": {"ema_decay": 1.0}})


def test_the_coarsest_discriminator_scale_must_still_fit_a_patchgan():
    assert TrainParams(discriminator_scales=3).min_image_size == 24 * 4
    raw = {"crop_resize": {**MINIMAL["crop_resize"], "image_size": 64}, "train": {"discriminator_scales": 3}}
    with pytest.raises(ParamsError, match=r"train.n_layers_d=3 at 3 scales \(the coarsest 1/4\): it needs at least 96"):
        parse_params(raw)


def test_hints_default_to_skin_and_hair_and_are_checked():
    train = parse_params(MINIMAL).train
    assert (train.hints, train.hint_dropout, train.hint_injection) == (("skin", "hair"), 0.5, "channels")
    assert parse_params({**MINIMAL, "train": {"hints": []}}).train.hints == ()
    assert parse_params({**MINIMAL, "train": {"hints": ["hair"], "hint_injection": "film"}}).train.hints == ("hair",)
    for train, problem in [
        ({"hints": ["skin", "skin"]}, r"train.hints: each may be named once"),
        ({"hints": ["eyes"]}, r"train.hints.0: must be one of 'skin' or 'hair' \(got 'eyes'\)"),
        ({"hint_dropout": 1.0}, r"train.hint_dropout: out of range"),
        ({"hints": [], "hint_dropout": 0.3}, r"train: hint_dropout only matters with hints, but hints is \[\]"),
        ({"hints": [], "hint_injection": "film"}, r"hint_injection only matters with hints"),
        ({"hints": [], "hint_relight_stops": 1}, r"hint_relight_stops only matters with hints"),
        (
            {"hints": ["hair"], "hint_relight_stops": 1},
            r"hint_relight_stops relights the skin, but hints is \['hair'\]",
        ),
        ({"hint_relight_stops": -1}, r"train.hint_relight_stops: out of range"),
        ({"direction": "photo_to_sketch", "input_channels": 3, "output_channels": 1}, r"hints describe the photo"),
    ]:
        with pytest.raises(ParamsError, match=problem):
            parse_params({**MINIMAL, "train": train})
