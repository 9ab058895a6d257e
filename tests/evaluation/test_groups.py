import pandas as pd
import pytest

from sketch2face.data.records import SourceError
from sketch2face.evaluation.groups import group_metrics, grouped_attributes, key_part, skin_tone_thirds, with_skin_tone

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
    with pytest.raises(SourceError, match=r"pairs.csv column .gender.: distinct values collide"):
        group_metrics(clash, ["gender"], ["psnr"], min_count=1)


def test_skin_tone_puts_the_faces_in_thirds_by_measured_lightness():
    table = pd.DataFrame({"id": list("abcdefg"), "skin_L": ["50.1", "70", "", "60", "40", "80", "30"]})
    tones = with_skin_tone(table).set_index("id")["skin_tone"].to_dict()
    assert tones == {"f": "light", "b": "light", "d": "medium", "a": "medium", "e": "dark", "g": "dark", "c": ""}
    assert list(skin_tone_thirds(pd.Series([55.0] * 6))) == ["light"] * 2 + ["medium"] * 2 + ["dark"] * 2  # ties split
    without = pd.DataFrame({"id": ["a"], "gender": ["male"]})
    assert with_skin_tone(without) is without, "a pairs table without measured colours has no skin_tone"
    summary = group_metrics(with_skin_tone(table).assign(psnr=range(7)), ["skin_tone"], ["psnr"], min_count=2)
    assert summary["group.skin_tone.missing.count"] == 1 and summary["gap.skin_tone.psnr"] == 3.5  # dark 5, medium 1.5
