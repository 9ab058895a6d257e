"""Per-group metrics: does the model work as well for every gender, race, tone group and source?

The result is flat (`group.<attribute>.<value>.<metric>`, `group.<attribute>.<value>.count`,
`gap.<attribute>.<metric>`) so that `dvc metrics diff` and MLflow show one line per number.
A gap is the largest minus the smallest group mean among groups with at least `min_count`
images; smaller groups are still listed with their count, but are too noisy to rank.
"""

from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from sketch2face.data.records import PAIRS_FILE, SourceError

MISSING_VALUE = "missing"  # the group of faces whose attribute is empty
DECIMALS = 4


def key_part(value: str) -> str:
    """An attribute value as a metrics-key segment: [A-Za-z0-9_-] only, never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(value).strip()).strip("_")
    return cleaned or MISSING_VALUE


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
