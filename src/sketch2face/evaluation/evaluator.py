"""The evaluate stage: generate every test photo, score it and two baselines, per image and per group.

Every number comes with a scale: the same metrics for a constant predictor (the mean training
photo) and for the sketch itself taken as the photo (its grey replicated to RGB). A generator
with appearance hints is scored twice: without hints (the unprefixed keys, comparable with any
other generator) and with the colours measured on each real test photo, what a precise witness
would say (keys prefixed `hinted_`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sketch2face.artifacts import EvalOutputs, TrainOutputs
from sketch2face.config import HINT_NAMES, EvaluateParams, Params, SsimWindow
from sketch2face.data.dataset import PairTensors, load_oriented_split, read_pairs_table
from sketch2face.data.images import as_rgb, luma
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.evaluation import perceptual, report
from sketch2face.evaluation.fsim import fsim_features, fsim_from_features
from sketch2face.evaluation.groups import group_metrics, grouped_attributes, with_skin_tone
from sketch2face.evaluation.identity import Recogniser, chance_rate, rank1_hits
from sketch2face.evaluation.metrics import psnr, ssim, ssim_grey, tone_shift
from sketch2face.io import write_csv, write_image, write_json
from sketch2face.models.cpu import use_cpu_kernels
from sketch2face.models.generator import AUTO, INFERENCE_KEY, load_generator_file
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.tracking import Tracker, read_run_reference

MODEL = ""  # the model's columns carry no prefix: `psnr`, `ssim`, ...
HINTED = "hinted_"  # the model given the hints measured on the real photo
MEAN_PHOTO = "baseline_mean_photo_"
SKETCH = "baseline_sketch_"
CANDIDATES = (MODEL, HINTED, MEAN_PHOTO, SKETCH)  # HINTED only for a generator with hints
HINT_GAIN = "psnr_gain_from_hints"
IMAGE_METRICS = ("psnr", "ssim", "ssim_grey", "fsim")
IDENTITY = "identity_rank1"
HEADLINE_METRICS = (*IMAGE_METRICS, IDENTITY)
TONE_SHIFT = "tone_shift"  # signed, in grey levels: per group it shows whose faces come out too dark or light
SCORED_METRICS = (*HEADLINE_METRICS, TONE_SHIFT)
PAIRS_BOOKKEEPING = ("split", "pair", "raw_photo", "raw_sketch", "photo_alignment", "sketch_alignment")
DECIMALS = 4
TEST_BATCH_SEED = 0  # dropout of the test-batch protocol: the same photos on every run


def channels_last(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W, C), the layout of the metrics."""
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())


def generate(
    model: SketchToPhoto, sketches: torch.Tensor, batch_size: int, hints: Mapping[str, torch.Tensor] | None = None
) -> torch.Tensor:
    """uint8 sketches -> uint8 photos, run as `model.inference` says; the test-batch protocol's dropout is seeded.

    `hints`: CIELAB (N, 3) per hint name, for a generator that takes them.
    """
    torch.manual_seed(TEST_BATCH_SEED)
    hints = hints or {}
    batches = [slice(start, start + batch_size) for start in range(0, len(sketches), batch_size)]
    return torch.cat([model(sketches[rows], **{name: lab[rows] for name, lab in hints.items()}) for rows in batches])


def measured_hints(model: SketchToPhoto, test: PairTensors, pairs_dir: Path) -> dict[str, torch.Tensor]:
    """The colours measured on each real test photo, for every hint the model takes."""
    hints = {name: test.appearance[:, HINT_NAMES.index(name)] for name in model.config.hints}
    for name, lab in hints.items():
        if lab.isnan().any():
            raise SourceError(
                f"{pairs_dir / PAIRS_FILE}: the generator takes {name} hints, but {int(lab.isnan().any(dim=1).sum())} "
                f"test pairs have no measured {name} colour; rerun assemble_pairs (`dvc repro`)"
            )
    return hints


def baseline_images(sketches: np.ndarray, train_photos: np.ndarray, photo_channels: int) -> dict[str, np.ndarray]:
    """The two trivial predictors: one mean training photo for all, and each sketch as its photo."""
    mean_photo = np.round(train_photos.mean(axis=0, dtype=np.float64)).astype(np.uint8)[None]
    sketch_grey = luma(sketches)
    return {MEAN_PHOTO: mean_photo, SKETCH: as_rgb(sketch_grey) if photo_channels == 3 else sketch_grey}


@contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Chunks run in parallel instead: coarse work per thread beats torch's fine-grained threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def image_quality(
    real: np.ndarray, candidates: Mapping[str, np.ndarray], window: SsimWindow, batch_size: int, workers: int = 1
) -> pd.DataFrame:
    """Per-image PSNR, SSIM, grey SSIM, FSIM and tone shift of every candidate, columns `<prefix><metric>`.

    A one-image candidate (the mean photo) is compared with every real photo; its FSIM features
    are computed once, and each real photo's features serve all candidates. Chunks of
    `batch_size` images are scored by `workers` threads (NumPy, OpenCV and torch release the GIL).
    """
    constant_features = {prefix: fsim_features(images) for prefix, images in candidates.items() if len(images) == 1}

    def score_chunk(start: int) -> pd.DataFrame:
        reference = real[start : start + batch_size]
        reference_features = fsim_features(reference)
        columns = {}
        for prefix, images in candidates.items():
            candidate = images if len(images) == 1 else images[start : start + batch_size]
            features = constant_features[prefix] if prefix in constant_features else fsim_features(candidate)
            columns[f"{prefix}psnr"] = psnr(reference, candidate)
            columns[f"{prefix}ssim"] = ssim(reference, candidate, window)
            columns[f"{prefix}ssim_grey"] = ssim_grey(reference, candidate, window)
            columns[f"{prefix}fsim"] = fsim_from_features(reference_features, features)
            columns[f"{prefix}{TONE_SHIFT}"] = tone_shift(reference, candidate)
        return pd.DataFrame(columns)

    with _single_threaded_torch(), ThreadPoolExecutor(max_workers=workers) as pool:
        chunks = list(pool.map(score_chunk, range(0, len(real), batch_size)))
    return pd.concat(chunks, ignore_index=True)


def identity_rates(
    recogniser: Recogniser, real: np.ndarray, candidates: Mapping[str, np.ndarray], subjects: list[str]
) -> pd.DataFrame:
    """Per-image rank-1 hits (1/0) of every candidate against the gallery of real test photos."""
    gallery = recogniser.embed(real)
    return pd.DataFrame(
        {
            f"{prefix}{IDENTITY}": rank1_hits(recogniser.embed(images), gallery, subjects).astype(int)
            for prefix, images in candidates.items()
        }
    )


def score_test_set(
    real: np.ndarray,
    candidates: Mapping[str, np.ndarray],
    subjects: list[str],
    recogniser: Recogniser,
    params: EvaluateParams,
) -> pd.DataFrame:
    """Every per-image metric of every candidate: the part `benchmarks/eval_speed.py` times."""
    workers = params.workers or os.cpu_count() or 1
    quality = image_quality(real, candidates, params.ssim_window, params.batch_size, workers)
    return pd.concat([quality, identity_rates(recogniser, real, candidates, subjects)], axis=1)


def perceptual_scores(
    real: np.ndarray, generated: Mapping[str, np.ndarray], wanted: tuple[str, ...]
) -> tuple[dict, dict, str]:
    """LPIPS per image and FID overall of each candidate (prefix -> images), for those whose weights are local;
    and why the others are not computed."""
    per_image, overall, skipped = {}, {}, []
    for metric in wanted:
        missing = perceptual.missing_weights(metric)
        if missing or real.shape[-1] != 3:
            reason = f"no local weights ({', '.join(missing)}; never downloaded)" if missing else "needs RGB photos"
            skipped.append(f"{metric}: {reason}")
            continue
        for prefix, images in generated.items():
            if metric == "lpips":
                per_image[f"{prefix}lpips"] = perceptual.lpips(real, images)
            else:
                overall[f"{prefix}fid"] = round(perceptual.fid(real, images), DECIMALS)
    return per_image, overall, "; ".join(skipped)


def summarise(
    per_image: pd.DataFrame, metric_columns: list[str], params: EvaluateParams, attributes: list[str]
) -> dict:
    """The flat `eval.json`: headline means, baselines, gains, groups and gaps."""
    means = per_image[metric_columns].mean()
    summary: dict = {"test_images": len(per_image)}
    summary.update({column: round(float(means[column]), DECIMALS) for column in metric_columns})
    summary["psnr_gain_over_mean_photo"] = round(float(means["psnr"] - means[f"{MEAN_PHOTO}psnr"]), DECIMALS)
    summary["psnr_gain_over_sketch"] = round(float(means["psnr"] - means[f"{SKETCH}psnr"]), DECIMALS)
    if f"{HINTED}psnr" in means:
        summary[HINT_GAIN] = round(float(means[f"{HINTED}psnr"] - means["psnr"]), DECIMALS)
    summary["identity_chance_rank1"] = round(chance_rate(list(per_image["subject"])), DECIMALS)
    model_metrics = [column for column in metric_columns if not column.startswith("baseline_")]
    summary.update(group_metrics(per_image, attributes, model_metrics, params.min_group_count))
    summary["grouped_attributes"] = ", ".join(attributes)
    summary["ssim_window"] = params.ssim_window
    summary["scored_generator"] = params.generator
    return summary


def _test_attributes(table: pd.DataFrame) -> pd.DataFrame:
    """The pairs-table columns that describe each test face, in table order (that of the test split's ids)."""
    rows = table[table["split"] == "test"].drop(columns=[c for c in PAIRS_BOOKKEEPING if c in table.columns])
    return rows.reset_index(drop=True)


def headline(summary: Mapping[str, object], outputs: EvalOutputs) -> str:
    """A few lines for the console: headline metrics of the model (also with hints) and each baseline."""
    lines = []
    for prefix in CANDIDATES:
        if f"{prefix}psnr" not in summary:
            continue
        metrics = {metric: summary[f"{prefix}{metric}"] for metric in HEADLINE_METRICS}
        lines.append(f"evaluate {prefix.rstrip('_') or 'model'}: {metrics}")
    lines.append(f"evaluate: groups and gaps in {outputs.metrics}; skipped: {summary['skipped_metrics'] or 'none'}")
    return "\n".join(lines)


def run_evaluation(params: Params, train_outputs: TrainOutputs, pairs_dir: Path, outputs: EvalOutputs) -> dict:
    """The evaluate stage: logs into the MLflow run that training opened, or one nested under it."""
    training_run = read_run_reference(train_outputs.run_reference)
    with Tracker(training_run).start_evaluation(params.model_dump(mode="json")) as tracker:
        generator = scored_generator(params.evaluate, train_outputs)
        summary = evaluate(params.evaluate, generator, pairs_dir, train_outputs.log, outputs, tracker)
        tracker.mark_evaluated()
        return summary


def scored_generator(params: EvaluateParams, train_outputs: TrainOutputs) -> Path:
    return train_outputs.best_generator if params.generator == "best" else train_outputs.generator


def evaluate(
    params: EvaluateParams,
    generator_path: Path,
    pairs_dir: Path,
    train_log: Path,
    outputs: EvalOutputs,
    tracker: Tracker,
) -> dict:
    generator, preprocessing = load_generator_file(generator_path)
    chosen = {} if params.inference == AUTO else {INFERENCE_KEY: params.inference}  # auto: as the file says
    model = SketchToPhoto(use_cpu_kernels(generator), {**preprocessing, **chosen})
    config = model.config
    orientation = (config.direction, config.input_channels, config.output_channels)
    test, train = (load_oriented_split(pairs_dir, split, *orientation) for split in ("test", "train"))
    if test is None or train is None:
        raise SourceError(f"{pairs_dir / PAIRS_FILE}: evaluation needs non-empty train and test splits")
    table = read_pairs_table(pairs_dir)

    generated = {MODEL: channels_last(generate(model, test.sketches, params.batch_size))}
    if config.hints:
        hints = measured_hints(model, test, pairs_dir)
        generated[HINTED] = channels_last(generate(model, test.sketches, params.batch_size, hints))
    real, sketches, train_photos = channels_last(test.photos), channels_last(test.sketches), channels_last(train.photos)
    for prefix, folder in ((MODEL, outputs.generated_dir), (HINTED, outputs.hinted_dir)):
        for face_id, image in zip(test.ids, generated.get(prefix, []), strict=prefix in generated):
            write_image(folder / f"{face_id}.png", image[..., 0] if image.shape[-1] == 1 else image)

    candidates = {**generated, **baseline_images(sketches, train_photos, config.output_channels)}
    recogniser = Recogniser.fit(train_photos, params.identity_feature_size)
    attributes = with_skin_tone(_test_attributes(table))
    scores = score_test_set(real, candidates, list(attributes["subject"]), recogniser, params)
    lpips_per_image, overall, skipped = perceptual_scores(real, generated, params.perceptual_metrics)
    per_image = pd.concat([attributes, scores, pd.DataFrame(lpips_per_image)], axis=1)
    write_csv(outputs.per_image, per_image.round(DECIMALS))

    metric_columns = [f"{prefix}{metric}" for prefix in candidates for metric in SCORED_METRICS]
    metric_columns += list(lpips_per_image)
    summary = summarise(per_image, metric_columns, params, grouped_attributes(per_image, params.group_attributes))
    summary["inference"] = model.inference  # what auto resolved to
    summary.update(overall)
    summary["skipped_metrics"] = skipped
    write_json(outputs.metrics, summary)

    _draw(params, test.ids, [sketches, *generated.values(), real], per_image, train_log, outputs)
    tracker.log_metrics({key: value for key, value in summary.items() if isinstance(value, (int, float))})
    for artifact in (outputs.metrics, outputs.per_image, *outputs.pictures()):
        tracker.log_artifact(artifact, "evaluation")
    for histogram in sorted(outputs.histograms_dir.glob("*.csv")):
        tracker.log_artifact(histogram, "evaluation/histograms")
    return summary


def _draw(
    params: EvaluateParams,
    ids: list[str],
    columns: Sequence[np.ndarray],
    per_image: pd.DataFrame,
    train_log: Path,
    outputs: EvalOutputs,
) -> None:
    """Grids (fixed ids, best / median / worst by PSNR), histograms and loss curves.

    A grid row per face shows `columns`: sketch | generated (without hints | with hints) | real.
    """
    rows = [[images[i] for images in columns] for i in range(len(ids))]
    fixed = sorted(range(len(ids)), key=lambda i: ids[i])[: params.grid_size]
    report.comparison_grid([rows[i] for i in fixed], outputs.grid)
    for rank, indices in report.extremes(per_image["psnr"].to_numpy(), params.grid_size).items():
        report.comparison_grid([rows[i] for i in indices], outputs.extremes[rank])
    report.histogram_tables(per_image, IMAGE_METRICS, outputs.histograms_dir)
    labels = {"model": MODEL, "with hints": HINTED, "mean photo": MEAN_PHOTO, "sketch": SKETCH}
    present = {label: prefix for label, prefix in labels.items() if f"{prefix}psnr" in per_image}
    report.histogram_figure(per_image, IMAGE_METRICS, present, outputs.histograms)
    report.loss_curves(pd.read_csv(train_log, sep="\t"), outputs.loss_curves)
