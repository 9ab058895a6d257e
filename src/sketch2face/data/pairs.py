"""Pair assembly: manifest -> subject-disjoint train/val/test split -> pix2pix "AB" images.

An AB image is the sketch (A, left half) beside the photo (B, right half), the aligned format
of pytorch-CycleGAN-and-pix2pix, so the pairs can be used by other pix2pix code as they are.
pairs.csv also holds each photo's appearance hints (skin and hair colour in CIELAB, measured on
the aligned photo), so DVC versions them with the pairs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sketch2face.config import AlignmentParams, AssemblePairsParams
from sketch2face.data.appearance import measure_appearance
from sketch2face.data.images import as_rgb, read_image
from sketch2face.data.records import FOLDER_SPLIT, MANIFEST_FILE, OFFICIAL_SPLIT, PAIRS_FILE
from sketch2face.io import write_csv, write_image, write_json

SPLITS = ("train", "val", "test")
SUMMARY_COLUMNS = ("source", "subset", "gender", "race")


def _fill_splits(rows_per_subject: pd.Series, targets: dict[str, float], rng: np.random.Generator) -> dict[str, str]:
    """Shuffled whole subjects fill each target split in turn (up to its row count); the rest train.

    A subject joins a split while that keeps the split nearer its target than leaving it out.
    """
    order = rows_per_subject.index[rng.permutation(len(rows_per_subject))]
    filled = dict.fromkeys(targets, 0)
    split_of = {}
    for subject in order:
        rows = int(rows_per_subject[subject])
        split = next((name for name in targets if filled[name] + rows / 2 <= targets[name]), "train")
        filled[split] = filled.get(split, 0) + rows
        split_of[subject] = split
    return split_of


def _stratified(
    pool: pd.DataFrame, params: AssemblePairsParams, fractions: dict[str, float], rng: np.random.Generator
) -> dict[str, str]:
    """Subject -> split for the rows of `pool`, each stratum (`params.stratify` values) on its own.

    A split's target is its fraction of the stratum's rows; the rest of the stratum is train.
    """
    if pool.empty:
        return {}
    columns = [column for column in params.stratify if column in pool]
    stratum_of = (
        pool[columns].fillna("").astype(str).agg("|".join, axis=1) if columns else pd.Series("", index=pool.index)
    )
    split_of: dict[str, str] = {}
    for _stratum, rows in pool.groupby(stratum_of, sort=True):
        targets = {split: fraction * len(rows) for split, fraction in fractions.items()}
        split_of.update(_fill_splits(rows["subject"].value_counts().sort_index(), targets, rng))
    return split_of


def _warn_unpublished(rows: pd.DataFrame) -> None:
    """`split: standard` asked for published splits: say which rows have none and go to the random split."""
    for source, group in rows.groupby("source", sort=True):
        warnings.warn(
            f"split: standard, but {len(group)} pairs of source '{source}' carry no published split "
            f"(e.g. {group['id'].iloc[0]}); they are split at random",
            stacklevel=3,
        )


def _check_disjoint(subjects: pd.Series, split: pd.Series) -> None:
    mixed = split.groupby(subjects).nunique()
    if (mixed > 1).any():
        raise ValueError(
            f"subjects in more than one split (fixed splits disagree): {sorted(mixed[mixed > 1].index)[:5]}"
        )


def _column(manifest: pd.DataFrame, name: str) -> pd.Series:
    """A manifest column with '' and absent values as NaN."""
    if name not in manifest:
        return pd.Series(np.nan, index=manifest.index, dtype=object)
    return manifest[name].replace("", np.nan)


def split_subjects(manifest: pd.DataFrame, params: AssemblePairsParams) -> pd.Series:
    """Assigns each row a split so that no subject appears in two splits.

    An imported AB folder's split (`folder_split`) is always kept. With `split: standard`, rows
    carrying their dataset's published split (`official_split`) keep it, and a dataset (source
    and subset) that publishes no val split has `val_fraction` of its train rows carved out as
    val (CUFSF trains on only 250 of 1194, so a share of all its rows would halve the training
    set). Every other row is split at random (seeded), whole subjects at a time, stratified by
    the `stratify` columns.
    """
    rng = np.random.default_rng(params.seed)
    split = _column(manifest, FOLDER_SPLIT)
    if params.split == "standard":
        official = _column(manifest, OFFICIAL_SPLIT).where(split.isna())
        split = split.fillna(official.where(official != "train"))
        dataset = manifest["source"] + "/" + _column(manifest, "subset").fillna("")  # CUFS: CUHK, AR, XM2VTS apart
        publishes_val = official.eq("val").groupby(dataset).transform("any")
        carve = manifest[official.eq("train") & ~publishes_val]
        split = split.fillna(manifest["subject"].map(_stratified(carve, params, {"val": params.val_fraction}, rng)))
        split = split.fillna(official)  # the published train rows of datasets with their own val
        _warn_unpublished(manifest[split.isna()])
    undecided = manifest[split.isna()]
    fractions = {"test": params.test_fraction, "val": params.val_fraction}
    split = split.fillna(manifest["subject"].map(_stratified(undecided, params, fractions, rng)))
    _check_disjoint(manifest["subject"], split)
    return split


def side_by_side(sketch: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The AB image: greyscale sketch replicated to RGB on the left, the photo on the right."""
    return np.concatenate([as_rgb(sketch), photo], axis=1)


def pairs_summary(pairs: pd.DataFrame) -> dict[str, int]:
    """Flat counts per split, and per split and source or attribute, for `dvc metrics diff`."""
    summary = {f"split.{split}": int((pairs["split"] == split).sum()) for split in SPLITS}
    for column in SUMMARY_COLUMNS:
        if column in pairs:
            counts = pairs.groupby(["split", column]).size()
            summary.update(
                {
                    f"split.{split}.{column}.{value}": int(count)
                    for (split, value), count in counts.items()
                    if value != ""
                }
            )
    return summary


def assemble_pairs(
    faces_dir: Path,
    out_dir: Path,
    params: AssemblePairsParams,
    geometry: AlignmentParams,
    summary_path: Path | None = None,
) -> pd.DataFrame:
    """Writes `<out>/<split>/<id>.png` AB images and `<out>/pairs.csv`; returns the pairs table.

    `geometry` is where crop_resize put the eyes (`crop_resize.alignment`): the appearance hints
    are measured relative to them. An `aligned` source's faces were only resized, not aligned;
    they are measured as if their eyes sat there too.
    """
    manifest = pd.read_csv(faces_dir / MANIFEST_FILE, dtype=str, keep_default_na=False)
    manifest["split"] = split_subjects(manifest, params)
    manifest["pair"] = [
        f"{split}/{face_id}.png" for split, face_id in zip(manifest["split"], manifest["id"], strict=True)
    ]
    appearance = []
    for _, row in manifest.iterrows():
        sketch = read_image(faces_dir / row["sketch"], "gray")
        photo = read_image(faces_dir / row["photo"], "rgb")
        write_image(out_dir / row["pair"], side_by_side(sketch, photo))
        appearance.append(measure_appearance(photo, geometry).columns())
    measured = pd.DataFrame(appearance, index=manifest.index)
    pairs = pd.concat([manifest.drop(columns=["photo", "sketch"]), measured], axis=1)
    write_csv(out_dir / PAIRS_FILE, pairs)
    if summary_path is not None:
        write_json(summary_path, pairs_summary(pairs))
    return pairs
