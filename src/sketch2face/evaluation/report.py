"""Pictures a person can open without a browser: sample grids and loss curves as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sketch2face.io import atomic_path, write_image  # noqa: E402

GAP = 2
MIN_TILE = 128  # small model resolutions are enlarged (nearest neighbour) so people can see them


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def _enlarged(image: np.ndarray) -> np.ndarray:
    factor = max(1, -(-MIN_TILE // image.shape[0]))
    return np.kron(_rgb(image), np.ones((factor, factor, 1), dtype=np.uint8))


def comparison_grid(rows: Sequence[Sequence[np.ndarray]], path: Path) -> None:
    """One row per face (e.g. sketch | generated | real), white gaps between tiles."""
    rows = [[_enlarged(image) for image in row] for row in rows]
    tile = rows[0][0].shape[0]
    columns = len(rows[0])
    canvas = np.full(
        (len(rows) * (tile + GAP) - GAP, columns * (tile + GAP) - GAP, 3), 255, dtype=np.uint8
    )
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
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
