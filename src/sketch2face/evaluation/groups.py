"""Per-group metrics: does the model work as well for every gender, race, tone group and source?

The result is flat (`group.<attribute>.<value>.<metric>`, `group.<attribute>.<value>.count`,
`gap.<attribute>.<metric>`) so that `dvc metrics diff` and MLflow show one line per number.
A gap is the largest minus the smallest group mean among groups with at least `min_count`
images; smaller groups are still listed with their count, but are too noisy to rank.

`skin_tone` is a grouping every dataset has, labels or not: the test faces in thirds by the
skin lightness (L*) measured on their real photos, `light`, `medium` and `dark`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from sketch2face.data.appearance import HINT_COLUMNS
from sketch2face.data.records import PAIRS_FILE, SourceError

MISSING_VALUE = "missing"  # the group of faces whose attribute is empty
DECIMALS = 4
SKIN_TONE = "skin_tone"
SKIN_TONES = ("light", "medium", "dark")
SKIN_LIGHTNESS = HINT_COLUMNS["skin"][0]


def key_part(value: str) -> str:
    """An attribute value as a metrics-key segment: [A-Za-z0-9_-] only, never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(value).strip()).strip("_")
    return cleaned or MISSING_VALUE


def skin_tone_thirds(lightness: pd.Series) -> pd.Series:
    """Each face's third of the set by skin lightness, lightest first ('' where not measured).

    Thirds of the faces themselves, not fixed L* bounds: they always make three comparable
    groups, also where everyone is of one population and only lighting varies, and they stay
    the same for every model scored on the same test set.
    """
    measured = pd.to_numeric(lightness, errors="coerce")  # pairs.csv is read as text; "" is not measured
    rank = measured.rank(method="first", ascending=False)  # 1: the lightest
    third = (rank - 1) * len(SKIN_TONES) // max(1, measured.notna().sum())
    return third.map(lambda index: "" if pd.isna(index) else SKIN_TONES[int(index)])


def with_skin_tone(attributes: pd.DataFrame) -> pd.DataFrame:
    """The test faces' attributes plus `skin_tone`, when pairs.csv holds the measured skin colour."""
    if SKIN_LIGHTNESS not in attributes.columns:
        return attributes
    return attributes.assign(**{SKIN_TONE: skin_tone_thirds(attributes[SKIN_LIGHTNESS])})


def grouped_attributes(table: pd.DataFrame, wanted: Sequence[str]) -> list[str]:
    """The wanted attributes that the pairs table has, in the order asked for."""
    return [attribute for attribute in wanted if attribute in table.columns]


def group_metrics(
    per_image: pd.DataFrame, attributes: Sequence[str], metrics: Sequence[str], min_count: int
) -> dict[str, float | int]:
    """Counts, means and gaps per attribute group, as flat metrics keys."""
    summary: dict[str, float | int] = {}
    for attribute in attributes:
        keys = per_image[attribute].map(key_part)
        if keys.nunique() != per_image[attribute].nunique():
            values = sorted(set(per_image[attribute]))
            raise SourceError(f"{PAIRS_FILE} column '{attribute}': distinct values collide as metrics keys: {values}")
        grouped = per_image.groupby(keys)
        means = grouped[list(metrics)].mean()
        counts = grouped.size()
        for value in sorted(counts.index):
            summary[f"group.{attribute}.{value}.count"] = int(counts[value])
            for metric in metrics:
                summary[f"group.{attribute}.{value}.{metric}"] = round(float(means.loc[value, metric]), DECIMALS)
        comparable = means[counts >= min_count]
        if len(comparable) >= 2:
            for metric in metrics:
                gap = comparable[metric].max() - comparable[metric].min()
                summary[f"gap.{attribute}.{metric}"] = round(float(gap), DECIMALS)
    return summary
