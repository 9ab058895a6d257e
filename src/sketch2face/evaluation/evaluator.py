"""The evaluate stage: generate every test photo, score it, compare with a trivial baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sketch2face.config import EvaluateParams
from sketch2face.data.dataset import load_split, to_model_range, to_pixels
from sketch2face.evaluation.metrics import psnr, ssim
from sketch2face.evaluation.report import comparison_grid, loss_curves
from sketch2face.io import write_csv, write_image, write_json
from sketch2face.models.generator import UnetGenerator, load_generator
from sketch2face.tracking import Tracker, read_run_reference
from sketch2face.training.trainer import TrainOutputs


@dataclass(frozen=True)
class EvalOutputs:
    generated_dir: Path
    metrics: Path
    per_image: Path
    grid: Path
    loss_curves: Path

    @classmethod
    def in_dirs(cls, metrics_dir: Path, results_dir: Path) -> EvalOutputs:
        return cls(
            generated_dir=results_dir / "generated",
            metrics=metrics_dir / "eval.json",
            per_image=metrics_dir / "eval_per_image.csv",
            grid=results_dir / "grid.png",
            loss_curves=results_dir / "loss_curves.png",
        )


def channels_last(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, H, W, C) with 1-channel images squeezed to (N, H, W)."""
    array = images.permute(0, 2, 3, 1).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


@torch.no_grad()
def generate(generator: UnetGenerator, sketches: torch.Tensor, batch_size: int) -> torch.Tensor:
    """uint8 sketches -> uint8 photos; dropout off and running norm statistics, so it is deterministic."""
    generator.eval()
    outputs = [to_pixels(generator(to_model_range(sketches[i : i + batch_size]))) for i in range(0, len(sketches), batch_size)]
    return torch.cat(outputs)


def run_evaluation(params: EvaluateParams, train_outputs: TrainOutputs, pairs_dir: Path, outputs: EvalOutputs) -> dict:
    """The evaluate stage: logs into the MLflow run that training opened."""
    with Tracker(read_run_reference(train_outputs.run_reference)).start() as tracker:
        return evaluate(params, train_outputs.generator, pairs_dir, train_outputs.log, outputs, tracker)


def evaluate(
    params: EvaluateParams, generator_path: Path, pairs_dir: Path, train_log: Path, outputs: EvalOutputs, tracker: Tracker
) -> dict[str, float]:
    generator = load_generator(generator_path)
    config = generator.config
    test = load_split(pairs_dir, "test", config.input_channels, config.output_channels)
    train = load_split(pairs_dir, "train", config.input_channels, config.output_channels)

    generated = channels_last(generate(generator, test.sketches, params.batch_size))
    real = channels_last(test.photos)
    mean_photo = np.round(channels_last(train.photos).astype(np.float64).mean(axis=0)).astype(np.uint8)

    rows = []
    for face_id, fake, photo in zip(test.ids, generated, real):
        write_image(outputs.generated_dir / f"{face_id}.png", fake)
        rows.append(
            {
                "id": face_id,
                "psnr": psnr(photo, fake),
                "ssim": ssim(photo, fake, params.ssim_window),
                "baseline_mean_photo_psnr": psnr(photo, mean_photo),
                "baseline_mean_photo_ssim": ssim(photo, mean_photo, params.ssim_window),
            }
        )
    per_image = pd.DataFrame(rows)
    write_csv(outputs.per_image, per_image.round(4))

    means = per_image.drop(columns="id").mean()
    summary = {
        "test_images": len(per_image),
        "psnr": round(float(means["psnr"]), 4),
        "ssim": round(float(means["ssim"]), 4),
        "baseline_mean_photo_psnr": round(float(means["baseline_mean_photo_psnr"]), 4),
        "baseline_mean_photo_ssim": round(float(means["baseline_mean_photo_ssim"]), 4),
        "psnr_gain_over_mean_photo": round(float(means["psnr"] - means["baseline_mean_photo_psnr"]), 4),
        "ssim_window": params.ssim_window,
    }
    write_json(outputs.metrics, summary)

    shown = sorted(range(len(test.ids)), key=lambda i: test.ids[i])[: params.grid_size]
    sketches = channels_last(test.sketches)
    comparison_grid([(sketches[i], generated[i], real[i]) for i in shown], outputs.grid)
    loss_curves(pd.read_csv(train_log, sep="\t"), outputs.loss_curves)

    tracker.log_metrics({key: value for key, value in summary.items() if isinstance(value, (int, float))})
    for artifact in (outputs.metrics, outputs.per_image, outputs.grid, outputs.loss_curves):
        tracker.log_artifact(artifact, "evaluation")
    return summary
