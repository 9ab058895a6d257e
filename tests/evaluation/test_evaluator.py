import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.hub
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from sketch2face.artifacts import EvalOutputs, TrainOutputs
from sketch2face.config import AlignmentParams, EvaluateParams
from sketch2face.data.appearance import measure_appearance
from sketch2face.data.images import luma
from sketch2face.data.pairs import side_by_side
from sketch2face.data.records import SourceError
from sketch2face.evaluation import report
from sketch2face.evaluation.evaluator import (
    MEAN_PHOTO,
    SKETCH,
    baseline_images,
    evaluate,
    generate,
    headline,
    scored_generator,
)
from sketch2face.evaluation.metrics import psnr
from sketch2face.inference import load_sketch_to_photo
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, save_generator
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.tracking import Tracker

SIZE = 32
RNG = np.random.default_rng(3)


class RecordingTracker(Tracker):
    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict = {}
        self.artifacts: list[Path] = []

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.update(metrics)

    def log_artifact(self, path, folder=None) -> None:
        self.artifacts.append(Path(path))


def _pairs_dir(root: Path, hints: bool = False) -> Path:
    """Pairs of 8 test faces; `hints`: with the colours assemble_pairs measures on each photo."""
    rows = []
    # the test faces are listed out of id order: the fixed grid must sort them
    for split, subjects in (("train", range(5)), ("test", range(13, 9, -1))):
        for subject in subjects:
            pattern = RNG.integers(30, 220, (4, 4, 3))
            for view in range(2):
                noisy = np.kron(pattern, np.ones((8, 8, 1))) + RNG.normal(0, 8, (SIZE, SIZE, 3))
                photo = np.clip(noisy, 0, 255).astype(np.uint8)
                sketch = 255 - photo.mean(axis=2).astype(np.uint8)
                face_id = f"demo/s{subject:02d}-v{view}"
                pair = f"{split}/{face_id}.png"
                (root / pair).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(side_by_side(sketch, photo)).save(root / pair)
                gender = "female" if subject % 2 else "male"
                subject_id = f"demo/s{subject:02d}"
                rows.append(
                    {
                        "id": face_id,
                        "source": "demo",
                        "subject": subject_id,
                        "gender": gender,
                        "raw_photo": "x.png",
                        "split": split,
                        "pair": pair,
                        **(measure_appearance(photo, AlignmentParams()).columns() if hints else {}),
                    }
                )
    pd.DataFrame(rows).to_csv(root / "pairs.csv", index=False)
    return root


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    pairs_dir = _pairs_dir(root / "pairs")
    save_generator(
        UnetGenerator(GeneratorConfig(image_size=SIZE, input_channels=1, output_channels=3, ngf=4)), root / "g.pt", {}
    )
    log = root / "train_log.tsv"
    pd.DataFrame({"epoch": [1, 2], "loss_G_GAN": [1.0, 0.8], "loss_D_real": [0.7, 0.6]}).to_csv(
        log, sep="\t", index=False
    )
    outputs = EvalOutputs.in_dirs(root / "metrics", root / "results")
    params = EvaluateParams(grid_size=3, batch_size=3, min_group_count=2, identity_feature_size=8)
    tracker = RecordingTracker()

    def no_download(*args, **kwargs):
        raise AssertionError("evaluation tried to download weights")

    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(root / "empty_torch_home"))
    patch.setattr(torch.hub, "download_url_to_file", no_download)
    try:
        summary = evaluate(params, root / "g.pt", pairs_dir, log, outputs, tracker)
    finally:
        patch.undo()
    return summary, outputs, tracker, pairs_dir


def test_eval_json_has_headlines_baselines_groups_and_notes(evaluated):
    summary, outputs, _, _ = evaluated
    assert json.loads(outputs.metrics.read_text()) == summary
    assert summary["test_images"] == 8
    for prefix in ("", "baseline_mean_photo_", "baseline_sketch_"):
        for metric in ("psnr", "ssim", "ssim_grey", "fsim", "identity_rank1", "tone_shift"):
            assert isinstance(summary[f"{prefix}{metric}"], float), f"{prefix}{metric}"
    assert summary["psnr_gain_over_sketch"] == pytest.approx(
        summary["psnr"] - summary["baseline_sketch_psnr"], abs=1e-3
    )
    assert summary["identity_chance_rank1"] == pytest.approx(2 / 8)
    assert summary["group.gender.female.count"] + summary["group.gender.male.count"] == 8
    assert "gap.gender.fsim" in summary and summary["grouped_attributes"] == "gender, source"
    assert summary["scored_generator"] == "last"
    assert {"group.gender.female.tone_shift", "gap.gender.tone_shift"} <= set(summary)
    assert (
        "lpips: no local weights" in summary["skipped_metrics"]
        and "fid: no local weights" in summary["skipped_metrics"]
    )
    assert all(not isinstance(value, (dict, list)) for value in summary.values()), "eval.json must stay flat"


def test_per_image_table_carries_attributes_and_matches_the_written_images(evaluated):
    _, outputs, _, pairs_dir = evaluated
    table = pd.read_csv(outputs.per_image, dtype={"id": str})
    assert {"id", "subject", "gender", "source", "fsim", "baseline_sketch_ssim_grey", "identity_rank1"} <= set(
        table.columns
    )
    assert "raw_photo" not in table.columns and "pair" not in table.columns
    first = table.iloc[0]
    generated = np.asarray(Image.open(outputs.generated_dir / f"{first['id']}.png"))
    real = np.asarray(Image.open(pairs_dir / f"test/{first['id']}.png"))[:, SIZE:]
    assert first["psnr"] == pytest.approx(psnr(real[None], generated[None])[0], abs=1e-3)
    assert set(table["identity_rank1"]) <= {0, 1}


def _ids_in_grid(grid: Path, pairs_dir: Path, ids: list[str]) -> list[str]:
    """The faces a grid shows, row by row, recognised by their real photo in the third column."""
    pixels = np.asarray(Image.open(grid))
    step, factor = report.MIN_TILE + report.GAP, report.MIN_TILE // SIZE
    photos = {face_id: np.asarray(Image.open(pairs_dir / f"test/{face_id}.png"))[:, SIZE:] for face_id in ids}
    shown = []
    for top in range(0, pixels.shape[0], step):
        tile = pixels[top : top + report.MIN_TILE : factor, 2 * step : 2 * step + report.MIN_TILE : factor]
        shown += [face_id for face_id, photo in photos.items() if np.array_equal(tile, photo)]
    return shown


def test_grids_show_the_first_ids_and_the_best_and_worst_psnr(evaluated):
    _, outputs, _, pairs_dir = evaluated
    by_psnr = pd.read_csv(outputs.per_image).sort_values("psnr", ascending=False)["id"].tolist()
    assert _ids_in_grid(outputs.grid, pairs_dir, by_psnr) == ["demo/s10-v0", "demo/s10-v1", "demo/s11-v0"]
    assert _ids_in_grid(outputs.extremes["best"], pairs_dir, by_psnr) == by_psnr[:3]
    assert _ids_in_grid(outputs.extremes["worst"], pairs_dir, by_psnr) == by_psnr[-3:]


def test_pictures_and_histograms_are_written_and_logged(evaluated):
    _, outputs, tracker, _ = evaluated
    for picture in outputs.pictures():
        assert picture.stat().st_size > 0
        assert picture in tracker.artifacts
    histogram = pd.read_csv(outputs.histograms_dir / "psnr.csv")
    psnr = pd.read_csv(outputs.per_image)["psnr"]
    assert list(histogram.columns) == ["value", "images"]
    counted = histogram[histogram["images"] > 0].set_index("value")["images"].to_dict()
    assert counted == Counter(np.floor(psnr) + 0.5), "1 dB bins centred on half dB"
    assert outputs.histograms_dir / "fsim.csv" in tracker.artifacts
    assert {"psnr", "fsim", "gap.gender.psnr", "baseline_sketch_fsim"} <= set(tracker.metrics)


def test_a_photo_to_sketch_generator_is_scored_against_the_real_sketches(tmp_path):
    pairs_dir = _pairs_dir(tmp_path / "pairs")
    config = GeneratorConfig(image_size=SIZE, input_channels=3, output_channels=1, ngf=4, direction="photo_to_sketch")
    save_generator(UnetGenerator(config), tmp_path / "g.pt", {})
    log = tmp_path / "train_log.tsv"
    pd.DataFrame({"epoch": [1], "loss_G_GAN": [1.0], "loss_D_real": [0.7]}).to_csv(log, sep="\t", index=False)
    outputs = EvalOutputs.in_dirs(tmp_path / "metrics", tmp_path / "results")
    params = EvaluateParams(grid_size=2, batch_size=4, min_group_count=2, identity_feature_size=8)

    summary = evaluate(params, tmp_path / "g.pt", pairs_dir, log, outputs, RecordingTracker())

    generated = np.asarray(Image.open(outputs.generated_dir / "demo/s10-v0.png"))
    assert generated.shape == (SIZE, SIZE), "a sketch generator writes greyscale sketches"
    assert summary["test_images"] == 8
    real_sketch = np.asarray(Image.open(pairs_dir / "test/demo/s10-v0.png"))[:, :SIZE, 0]
    per_image = pd.read_csv(outputs.per_image).set_index("id")
    assert per_image.loc["demo/s10-v0", "psnr"] == pytest.approx(
        peak_signal_noise_ratio(real_sketch, generated, data_range=255), abs=1e-3
    )


def test_a_pairs_table_without_test_rows_is_a_user_error_naming_it(tmp_path):
    """The stage reports it as one line (SourceError), not as a traceback."""
    pairs_dir = _pairs_dir(tmp_path / "pairs")
    table = pd.read_csv(pairs_dir / "pairs.csv")
    table[table["split"] != "test"].to_csv(pairs_dir / "pairs.csv", index=False)
    save_generator(
        UnetGenerator(GeneratorConfig(image_size=SIZE, input_channels=1, output_channels=3, ngf=4)),
        tmp_path / "g.pt",
        {},
    )
    outputs = EvalOutputs.in_dirs(tmp_path / "metrics", tmp_path / "results")
    with pytest.raises(SourceError, match="evaluation needs non-empty train and test splits") as error:
        evaluate(EvaluateParams(), tmp_path / "g.pt", pairs_dir, tmp_path / "log.tsv", outputs, RecordingTracker())
    assert str(pairs_dir / "pairs.csv") in str(error.value)


def test_evaluate_generator_param_picks_the_last_or_the_best_file(tmp_path):
    outputs = TrainOutputs.in_dirs(tmp_path / "models", tmp_path / "metrics")
    assert scored_generator(EvaluateParams(), outputs) == tmp_path / "models" / "generator.pt"
    assert scored_generator(EvaluateParams(generator="best"), outputs) == tmp_path / "models" / "generator_best.pt"
    with pytest.raises(ValueError, match="generator"):
        EvaluateParams(generator="latest")


def test_baselines_are_the_mean_training_photo_and_the_sketch_in_grey():
    train_photos = np.stack([np.full((4, 4, 3), (10, 100, 200)), np.full((4, 4, 3), (21, 110, 0))]).astype(np.uint8)
    sketches = np.stack([np.full((4, 4, 3), (255, 0, 0)), np.full((4, 4, 3), 7)]).astype(np.uint8)

    baselines = baseline_images(sketches, train_photos, photo_channels=3)

    assert np.array_equal(baselines[MEAN_PHOTO], np.full((1, 4, 4, 3), (16, 105, 100)))  # 15.5 rounds up
    assert np.array_equal(baselines[SKETCH][:, 0, 0], [[76, 76, 76], [7, 7, 7]])  # luma, replicated to RGB
    assert baseline_images(sketches, train_photos[..., :1], photo_channels=1)[SKETCH].shape == (2, 4, 4, 1)


@pytest.mark.parametrize("inference", ["running_stats", "image_stats", "test_batch"])
def test_generation_is_deterministic_and_independent_of_the_batch(inference):
    torch.manual_seed(0)
    generator = UnetGenerator(GeneratorConfig(image_size=2 * SIZE, input_channels=1, ngf=4))  # batch norm, dropout
    model = SketchToPhoto(generator, {"inference": inference})
    sketches = torch.randint(0, 256, (4, 1, 2 * SIZE, 2 * SIZE), dtype=torch.uint8)
    photos = generate(model, sketches, batch_size=3)
    assert photos.shape == (4, 3, 2 * SIZE, 2 * SIZE) and photos.dtype == torch.uint8
    assert torch.equal(photos, generate(model, sketches, batch_size=1))


@pytest.fixture(scope="module")
def hinted(tmp_path_factory):
    """A generator with both hints scored on pairs with measured colours."""
    root = tmp_path_factory.mktemp("hinted")
    pairs_dir = _pairs_dir(root / "pairs", hints=True)
    torch.manual_seed(0)
    config = GeneratorConfig(image_size=SIZE, input_channels=1, output_channels=3, ngf=4, hints=("skin", "hair"))
    save_generator(UnetGenerator(config), root / "g.pt", {})
    log = root / "train_log.tsv"
    pd.DataFrame({"epoch": [1], "loss_G_GAN": [1.0], "loss_D_real": [0.7]}).to_csv(log, sep="\t", index=False)
    outputs = EvalOutputs.in_dirs(root / "metrics", root / "results")
    params = EvaluateParams(
        grid_size=3, batch_size=3, min_group_count=2, identity_feature_size=8, perceptual_metrics=()
    )
    tracker = RecordingTracker()
    summary = evaluate(params, root / "g.pt", pairs_dir, log, outputs, tracker)
    return summary, outputs, tracker, pairs_dir, root / "g.pt"


def test_a_generator_with_hints_is_scored_without_and_with_the_measured_colours(hinted):
    summary, outputs, tracker, pairs_dir, generator_file = hinted
    for metric in ("psnr", "ssim", "ssim_grey", "fsim", "identity_rank1", "tone_shift"):
        assert isinstance(summary[f"hinted_{metric}"], float) and isinstance(summary[metric], float), metric
    assert summary["psnr_gain_from_hints"] == pytest.approx(summary["hinted_psnr"] - summary["psnr"], abs=1e-3)
    assert summary["grouped_attributes"] == "gender, skin_tone, source"
    for group in ("light", "medium", "dark"):
        assert summary[f"group.skin_tone.{group}.count"] in (2, 3)  # 8 test faces in thirds
        assert {f"group.skin_tone.{group}.tone_shift", f"group.skin_tone.{group}.hinted_tone_shift"} <= set(summary)
    assert {"gap.skin_tone.tone_shift", "gap.skin_tone.hinted_tone_shift", "gap.gender.hinted_psnr"} <= set(summary)
    assert {"hinted_psnr", "gap.skin_tone.hinted_tone_shift"} <= set(tracker.metrics)
    assert "evaluate hinted: {'psnr'" in headline(summary, outputs)

    per_image = pd.read_csv(outputs.per_image, dtype={"id": str}).set_index("id")
    table = pd.read_csv(pairs_dir / "pairs.csv").set_index("id")
    lightest = per_image["skin_L"].idxmax()
    darkest = per_image["skin_L"].idxmin()
    assert per_image.loc[lightest, "skin_tone"] == "light" and per_image.loc[darkest, "skin_tone"] == "dark"
    model = load_sketch_to_photo(generator_file)
    for face_id in ("demo/s10-v0", "demo/s13-v1"):
        ab = np.asarray(Image.open(pairs_dir / f"test/{face_id}.png"))
        sketch = torch.from_numpy(luma(ab[:, :SIZE])[..., 0].copy())[None, None]
        colours = {
            name: torch.tensor(table.loc[face_id, [f"{name}_L", f"{name}_a", f"{name}_b"]].to_numpy(float))
            for name in ("skin", "hair")
        }
        expected = model(sketch, **colours)[0].permute(1, 2, 0).numpy()
        written = np.asarray(Image.open(outputs.hinted_dir / f"{face_id}.png"))
        assert np.array_equal(written, expected), "the hinted photo is the model given the measured colours"
        assert not np.array_equal(written, np.asarray(Image.open(outputs.generated_dir / f"{face_id}.png")))
        scored = psnr(ab[None, :, SIZE:], written[None])[0]
        assert per_image.loc[face_id, "hinted_psnr"] == pytest.approx(scored, abs=1e-3)


def test_grid_rows_show_sketch_no_hint_with_hint_and_real(hinted):
    _, outputs, _, pairs_dir, _ = hinted
    grid = np.asarray(Image.open(outputs.grid))
    step, factor = report.MIN_TILE + report.GAP, report.MIN_TILE // SIZE
    assert grid.shape[1] == 4 * step - report.GAP
    first = "demo/s10-v0"  # the first test id
    tile = slice(0, report.MIN_TILE, factor)
    columns = [grid[tile, left : left + report.MIN_TILE : factor] for left in range(0, 4 * step, step)]
    assert np.array_equal(columns[1], np.asarray(Image.open(outputs.generated_dir / f"{first}.png")))
    assert np.array_equal(columns[2], np.asarray(Image.open(outputs.hinted_dir / f"{first}.png")))
    assert np.array_equal(columns[3], np.asarray(Image.open(pairs_dir / f"test/{first}.png"))[:, SIZE:])


def test_a_generator_with_hints_needs_the_test_photos_measured_colours(tmp_path):
    pairs_dir = _pairs_dir(tmp_path / "pairs")  # a pairs.csv from before hints were measured
    config = GeneratorConfig(image_size=SIZE, input_channels=1, output_channels=3, ngf=4, hints=("hair",))
    save_generator(UnetGenerator(config), tmp_path / "g.pt", {})
    outputs = EvalOutputs.in_dirs(tmp_path / "metrics", tmp_path / "results")
    with pytest.raises(
        SourceError,
        match=r"pairs.csv: the generator takes hair hints, but 8 test pairs have no "
        r"measured hair colour; rerun assemble_pairs",
    ):
        evaluate(EvaluateParams(), tmp_path / "g.pt", pairs_dir, tmp_path / "log.tsv", outputs, RecordingTracker())
