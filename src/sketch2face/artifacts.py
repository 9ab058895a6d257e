"""Where the train and evaluate stages put their outputs: file names and folder layouts.

Training writes what evaluation, prediction and the app read, so the names live here, below all
of them, rather than in the module that happens to write them. (The data stages' tables are named
in `data.records`, beside the records they hold.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GENERATOR_FILE = "generator.pt"
BEST_GENERATOR_FILE = "generator_best.pt"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_REFERENCE_FILE = "mlflow_run.json"
TRAIN_LOG_FILE = "train_log.tsv"
TRAIN_SUMMARY_FILE = "train.json"
EVAL_SUMMARY_FILE = "eval.json"
EVAL_PER_IMAGE_FILE = "eval_per_image.csv"
EXTREMES = ("best", "median", "worst")  # the grids of the test faces ranked by PSNR


@dataclass(frozen=True)
class TrainOutputs:
    """What the train stage writes (models/ and metrics/); evaluate and predict read it."""

    generator: Path
    best_generator: Path
    checkpoint: Path
    run_reference: Path
    log: Path
    summary: Path

    @classmethod
    def in_dirs(cls, models_dir: Path, metrics_dir: Path) -> TrainOutputs:
        return cls(
            generator=models_dir / GENERATOR_FILE,
            best_generator=models_dir / BEST_GENERATOR_FILE,
            checkpoint=models_dir / CHECKPOINT_FILE,
            run_reference=models_dir / RUN_REFERENCE_FILE,
            log=metrics_dir / TRAIN_LOG_FILE,
            summary=metrics_dir / TRAIN_SUMMARY_FILE,
        )


@dataclass(frozen=True)
class EvalOutputs:
    """What the evaluate stage writes (metrics/ and results/)."""

    generated_dir: Path
    hinted_dir: Path  # photos generated with the hints measured on the real photos
    metrics: Path
    per_image: Path
    histograms_dir: Path
    grid: Path
    extremes: dict[str, Path]
    histograms: Path
    loss_curves: Path

    @classmethod
    def in_dirs(cls, metrics_dir: Path, results_dir: Path) -> EvalOutputs:
        return cls(
            generated_dir=results_dir / "generated",
            hinted_dir=results_dir / "generated_hinted",
            metrics=metrics_dir / EVAL_SUMMARY_FILE,
            per_image=metrics_dir / EVAL_PER_IMAGE_FILE,
            histograms_dir=metrics_dir / "histograms",
            grid=results_dir / "grid.png",
            extremes={rank: results_dir / f"grid_{rank}.png" for rank in EXTREMES},
            histograms=results_dir / "histograms.png",
            loss_curves=results_dir / "loss_curves.png",
        )

    def pictures(self) -> list[Path]:
        return [self.grid, *self.extremes.values(), self.histograms, self.loss_curves]
