from pathlib import Path

import pytest

from sketch2face.data.sources.common import official_split_from_folders

ROOT = Path("/data/raw/cufs")


@pytest.mark.parametrize(
    ("relative", "split"),
    [
        ("CUHK/training/photos/f-005-01.jpg", "train"),
        ("CUHK_testing_cropped_sketches/f-005-01-sz1.jpg", "test"),
        ("ar/Testing/m-002-1.jpg", "test"),
        ("set/val/x.jpg", "val"),
        ("set/validation_2024/x.jpg", "val"),
        ("for_evaluation/photos/x.jpg", None),  # 'val' inside a word is no split
        ("latest_download/photos/x.jpg", None),  # nor is 'test' inside one
        ("CUHKTestingPhotos/x.jpg", "test"),  # camel case splits into words
        ("TRAIN/x.jpg", "train"),
        ("trainSet/x.jpg", "train"),
        ("Contest/photos/x.jpg", None),
        ("photos/training.jpg", None),  # only folders count, not the file name
    ],
)
def test_a_split_comes_from_a_whole_word_of_a_folder_name(relative, split):
    assert official_split_from_folders(ROOT / relative, ROOT) == split
