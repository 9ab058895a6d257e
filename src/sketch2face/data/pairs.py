"""Pair assembly: manifest -> subject-disjoint train/val/test split -> pix2pix "AB" images.

An AB image is the sketch (A, left half) beside the photo (B, right half), the aligned format
of pytorch-CycleGAN-and-pix2pix, so the pairs can be used by other pix2pix code as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sketch2face.config import AssemblePairsParams
from sketch2face.data.faces import MANIFEST_FILE
from sketch2face.data.images import read_image
from sketch2face.io import write_csv, write_image

PAIRS_FILE = "pairs.csv"
SPLITS = ("train", "val", "test")


def split_subjects(subjects: pd.Series, params: AssemblePairsParams) -> pd.Series:
    """Assigns each row a split so that no subject appears in two splits.

    Subjects are shuffled with the seed, then whole subjects fill the test split, then val, up
    to their fractions of the rows; the rest is train.
    """
    rng = np.random.default_rng(params.seed)
    rows_per_subject = subjects.value_counts().sort_index()
    order = rows_per_subject.index[rng.permutation(len(rows_per_subject))]
    targets = {"test": params.test_fraction * len(subjects), "val": params.val_fraction * len(subjects)}
    split_of: dict[str, str] = {}
    filled = {"test": 0, "val": 0}
    for subject in order:
        split = next((name for name in ("test", "val") if filled[name] < targets[name]), "train")
        if split != "train":
            filled[split] += int(rows_per_subject[subject])
        split_of[subject] = split
    return subjects.map(split_of)


def side_by_side(sketch: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The AB image: greyscale sketch replicated to RGB on the left, the photo on the right."""
    return np.concatenate([np.repeat(sketch[:, :, None], 3, axis=2), photo], axis=1)


def assemble_pairs(faces_dir: Path, out_dir: Path, params: AssemblePairsParams) -> pd.DataFrame:
    """Writes `<out>/<split>/<id>.png` AB images and `<out>/pairs.csv`; returns the pairs table."""
    manifest = pd.read_csv(faces_dir / MANIFEST_FILE, dtype=str, keep_default_na=False)
    manifest["split"] = split_subjects(manifest["subject"], params)
    manifest["pair"] = [f"{split}/{face_id}.png" for split, face_id in zip(manifest["split"], manifest["id"])]
    for _, row in manifest.iterrows():
        sketch = read_image(faces_dir / row["sketch"], "gray")
        photo = read_image(faces_dir / row["photo"], "rgb")
        write_image(out_dir / row["pair"], side_by_side(sketch, photo))
    pairs = manifest.drop(columns=["photo", "sketch"])
    write_csv(out_dir / PAIRS_FILE, pairs)
    return pairs
