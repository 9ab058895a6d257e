import pandas as pd
import pytest

from sketch2face.data.records import SourceError
from sketch2face.evaluation.groups import group_metrics, grouped_attributes, key_part

PER_IMAGE = pd.DataFrame(
    {
        "gender": ["female", "female", "male", "male", "male", ""],
        "race": ["Asian", "White", "Asian", "Asian", "White", "Asian"],
        "psnr": [20.0, 22.0, 18.0, 19.0, 17.0, 30.0],
    }
)


def test_counts_means_and_gaps_are_flat_keys():
    summary = group_metrics(PER_IMAGE, ["gender"], ["psnr"], min_count=2)
    assert summary["group.gender.female.count"] == 2 and summary["group.gender.female.psnr"] == 21.0
    assert summary["group.gender.male.count"] == 3 and summary["group.gender.male.psnr"] == 18.0
    assert summary["group.gender.missing.count"] == 1
    assert summary["gap.gender.psnr"] == pytest.approx(3.0)  # the 1-image 'missing' group is too small to rank
    assert sum(value for key, value in summary.items() if key.endswith(".count")) == len(PER_IMAGE)


def test_no_gap_without_two_groups_large_enough():
    summary = group_metrics(PER_IMAGE, ["race"], ["psnr"], min_count=3)
    assert "group.race.White.count" in summary and "gap.race.psnr" not in summary


def test_only_attributes_present_in_the_table_are_grouped():
    assert grouped_attributes(PER_IMAGE, ["gender", "tone_group", "race"]) == ["gender", "race"]


def test_values_become_safe_key_segments():
    assert key_part(" South Asian ") == "South_Asian" and key_part("") == "missing" and key_part("a.b") == "a_b"
    clash = PER_IMAGE.assign(gender=["a b", "a_b", "x", "x", "x", "x"])
    with pytest.raises(SourceError, match="pairs.csv column .gender.: distinct values collide"):
        group_metrics(clash, ["gender"], ["psnr"], min_count=1)
