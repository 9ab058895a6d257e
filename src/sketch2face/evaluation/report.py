"""Pictures a person can open without a browser (PNG), and the tables behind `dvc plots`.

Grids: one row per face, sketch | generated | real. Histograms use fixed bins per metric, so
the tables of two experiments line up in `dvc plots diff`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sketch2face.data.images import as_rgb
from sketch2face.io import atomic_path, write_csv, write_image

GAP = 2
MIN_TILE = 128  # small model resolutions are enlarged (nearest neighbour) so people can see them
HISTOGRAM_BINS = 50
HISTOGRAM_RANGES = {"psnr": (0.0, 50.0)}  # dB; every other metric lies in [0, 1]
UNIT_RANGE = (0.0, 1.0)


def _enlarged(image: np.ndarray) -> np.ndarray:
    factor = max(1, -(-MIN_TILE // image.shape[0]))
    return np.kron(as_rgb(image), np.ones((factor, factor, 1), dtype=np.uint8))


def _save(figure: plt.Figure, path: Path) -> None:
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def comparison_grid(rows: Sequence[Sequence[np.ndarray]], path: Path) -> None:
    """One row per face (e.g. sketch | generated | real), white gaps between tiles."""
    rows = [[_enlarged(image) for image in row] for row in rows]
    tile = rows[0][0].shape[0]
    columns = len(rows[0])
    canvas = np.full((len(rows) * (tile + GAP) - GAP, columns * (tile + GAP) - GAP, 3), 255, dtype=np.uint8)
    for row_index, row in enumerate(rows):
        for column_index, image in enumerate(row):
            top, left = row_index * (tile + GAP), column_index * (tile + GAP)
            canvas[top : top + tile, left : left + tile] = image
    write_image(path, canvas)


def loss_curves(log: pd.DataFrame, path: Path) -> None:
    """Per-epoch generator and discriminator losses from `train_log.tsv`."""
    figure, (axis_g, axis_d) = plt.subplots(1, 2, figsize=(10, 4))
    for column in log.columns:
        if column.startswith("loss_G"):
            axis_g.plot(log["epoch"], log[column], marker="o", label=column)
        elif column.startswith("loss_D"):
            axis_d.plot(log["epoch"], log[column], marker="o", label=column)
    for axis, title in ((axis_g, "generator"), (axis_d, "discriminator")):
        axis.set(title=f"{title} losses", xlabel="epoch", ylabel="loss")
        axis.legend()
        axis.grid(alpha=0.3)
    _save(figure, path)


def extremes(scores: np.ndarray, size: int) -> dict[str, list[int]]:
    """Indices of the `size` best, median and worst scores (higher is better), best first."""
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    size = min(size, len(order))
    middle = max(0, (len(order) - size) // 2)
    return {"best": order[:size], "median": order[middle : middle + size], "worst": order[-size:]}


def _bins(metric: str) -> np.ndarray:
    low, high = HISTOGRAM_RANGES.get(metric, UNIT_RANGE)
    return np.linspace(low, high, HISTOGRAM_BINS + 1)


def _counts(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; values outside the range land in the first or last bin, none is dropped."""
    clipped = np.clip(values.to_numpy(dtype=np.float64), edges[0], edges[-1])
    return np.histogram(clipped, bins=edges)[0]


def histogram_tables(per_image: pd.DataFrame, metrics: Sequence[str], folder: Path) -> None:
    """`<folder>/<metric>.csv` with columns value (bin centre) and images (the model's counts)."""
    for metric in metrics:
        edges = _bins(metric)
        centres = (edges[:-1] + edges[1:]) / 2
        table = pd.DataFrame({"value": centres.round(4), "images": _counts(per_image[metric], edges)})
        write_csv(folder / f"{metric}.csv", table)


def histogram_figure(
    per_image: pd.DataFrame, metrics: Sequence[str], candidates: Mapping[str, str], path: Path
) -> None:
    """One panel per metric; one outline per candidate (label -> column prefix)."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.5), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        edges = _bins(metric)
        for label, prefix in candidates.items():
            axis.stairs(_counts(per_image[f"{prefix}{metric}"], edges), edges, label=label)
        axis.set(title=metric, xlabel=metric, ylabel="test images")
        axis.grid(alpha=0.3)
    axes[0][0].legend()
    _save(figure, path)
