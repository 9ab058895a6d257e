import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sketch2face.colour import srgb_to_lab
from sketch2face.config import AlignmentParams, AssemblePairsParams, SourceParams
from sketch2face.data.pairs import assemble_pairs, split_subjects
from sketch2face.data.records import PAIRS_FILE
from sketch2face.data.sources import aligned


def _manifest(rows: int, **columns) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"id": [f"a/{i}" for i in range(rows)], "subject": [f"s{i // 2}" for i in range(rows)], "source": "a"}
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_split_is_subject_disjoint_seeded_and_close_to_the_fractions():
    manifest = _manifest(200)
    params = AssemblePairsParams(seed=1, val_fraction=0.1, test_fraction=0.2)
    splits = split_subjects(manifest, params)
    assert splits.groupby(manifest["subject"]).nunique().max() == 1
    counts = splits.value_counts()
    assert abs(counts["test"] - 40) <= 2 and abs(counts["val"] - 20) <= 2
    assert splits.equals(split_subjects(manifest, params))
    assert not splits.equals(split_subjects(manifest, AssemblePairsParams(seed=2)))


def test_split_is_stratified_by_source_and_gender():
    # 160 rows of source a (3/4 female), 40 of source b (all male): each group gets its share.
    manifest = _manifest(200, source=["a"] * 160 + ["b"] * 40, gender=(["female"] * 3 + ["male"]) * 40 + ["male"] * 40)
    manifest["subject"] = [f"s{i}" for i in range(200)]
    splits = split_subjects(manifest, AssemblePairsParams(test_fraction=0.25, val_fraction=0.1))
    test = manifest[splits == "test"]
    assert len(test[(test.source == "a") & (test.gender == "female")]) == 30
    assert len(test[(test.source == "a") & (test.gender == "male")]) == 10
    assert len(test[test.source == "b"]) == 10


def test_standard_split_keeps_the_published_test_set_and_carves_val_from_train():
    official = ["train"] * 88 + ["test"] * 100
    manifest = _manifest(188, official_split=official)
    manifest["subject"] = [f"s{i}" for i in range(188)]
    extra = _manifest(20, official_split="", source="b")  # a source without a published split, split at random
    extra["subject"] = [f"x{i}" for i in range(20)]
    manifest = pd.concat([manifest, extra], ignore_index=True)

    with pytest.warns(UserWarning, match=r"20 pairs of source 'b' carry no published split \(e.g. a/0\)"):
        splits = split_subjects(
            manifest, AssemblePairsParams(split="standard", val_fraction=0.1, test_fraction=0.25, stratify=())
        )

    published = splits[:188]
    assert (published[88:] == "test").all()
    assert (
        set(published[:88]) == {"train", "val"} and (published[:88] == "val").sum() == 9
    )  # 10% of the 88 published train
    assert (splits[188:] == "test").sum() == 5 and (splits[188:] == "val").sum() == 2
    random = split_subjects(manifest, AssemblePairsParams(split="random", stratify=()))
    assert (random[88:188] == "test").sum() < 100


def test_standard_split_keeps_a_published_val_set_and_carves_none():
    manifest = _manifest(20, official_split=["train"] * 10 + ["val"] * 5 + ["test"] * 5)
    manifest["subject"] = [f"s{i}" for i in range(20)]
    carved = _manifest(
        10, subset="other", official_split=["train"] * 8 + ["test"] * 2
    )  # a subset with no published val
    carved["subject"] = [f"b{i}" for i in range(10)]
    manifest = pd.concat([manifest.assign(subset="with_val"), carved], ignore_index=True)

    splits = split_subjects(manifest, AssemblePairsParams(split="standard", val_fraction=0.1, stratify=()))

    assert list(splits[:20]) == list(manifest["official_split"][:20])
    assert list(splits[28:]) == ["test", "test"] and (splits[20:28] == "val").sum() == 1  # 10% of its 8 train rows


def test_folder_split_of_imported_ab_data_is_always_kept():
    manifest = _manifest(6, folder_split=["train", "val", "test", "test", "val", "train"])
    manifest["subject"] = [f"s{i}" for i in range(6)]
    for mode in ("random", "standard"):
        splits = split_subjects(manifest, AssemblePairsParams(split=mode))
        assert list(splits) == list(manifest["folder_split"])


def test_a_subject_given_two_splits_by_its_folders_is_an_error():
    manifest = _manifest(4, folder_split=["train", "test", "val", "val"])  # rows 0 and 1 are both subject s0
    with pytest.raises(ValueError, match=r"subjects in more than one split \(fixed splits disagree\): \['s0'\]"):
        split_subjects(manifest, AssemblePairsParams())


def test_ab_images_put_the_sketch_left_and_the_photo_right(tmp_path):
    faces = tmp_path / "faces"
    (faces / "photos").mkdir(parents=True)
    (faces / "sketches").mkdir()
    rows = []
    for index in range(6):
        Image.fromarray(np.full((8, 8, 3), (200, 10, 10), dtype=np.uint8)).save(faces / f"photos/f{index}.png")
        Image.fromarray(np.full((8, 8), 60, dtype=np.uint8)).save(faces / f"sketches/f{index}.png")
        rows.append(
            {
                "id": f"src/f{index}",
                "source": "src",
                "subject": f"s{index}",
                "photo": f"photos/f{index}.png",
                "sketch": f"sketches/f{index}.png",
                "gender": "female" if index < 5 else "",
            }
        )  # f5: gender unknown
    pd.DataFrame(rows).to_csv(faces / "manifest.csv", index=False)

    params = AssemblePairsParams(val_fraction=0.2, test_fraction=0.2)
    pairs = assemble_pairs(faces, tmp_path / "pairs", params, AlignmentParams(), tmp_path / "pairs.json")

    assert len(pairs) == 6 and set(pairs["split"]) == {"train", "val", "test"}
    assert list(pd.read_csv(tmp_path / "pairs" / PAIRS_FILE, keep_default_na=False)["gender"]) == ["female"] * 5 + [""]
    ab = np.asarray(Image.open(tmp_path / "pairs" / pairs["pair"][0]))
    assert ab.shape == (8, 16, 3)
    assert (ab[:, :8] == 60).all() and (ab[:, 8:] == (200, 10, 10)).all()
    summary = json.loads((tmp_path / "pairs.json").read_text())
    assert summary["split.train"] + summary["split.val"] + summary["split.test"] == 6
    assert summary["split.train"] == 4 and summary["split.train.gender.female"] == 3  # the blank gender is in train
    assert not [key for key in summary if key.endswith(".gender.")]
    written = pd.read_csv(tmp_path / "pairs" / PAIRS_FILE)
    expected = np.round(srgb_to_lab(np.array([200, 10, 10])), 1)  # a flat photo: skin and hair are its colour
    np.testing.assert_allclose(written[["skin_L", "skin_a", "skin_b"]].to_numpy(), [expected] * 6, atol=0.051)
    np.testing.assert_allclose(written[["hair_L", "hair_a", "hair_b"]].to_numpy(), [expected] * 6, atol=0.051)
    assert not [key for key in summary if "skin_" in key or "hair_" in key]  # descriptive, not a group attribute
    read_back = aligned.scan(SourceParams(name="mine", kind="aligned", root=tmp_path / "pairs"))
    assert len(read_back.records) == 6 and read_back.rejections == []  # pairs.csv is its table, not a stray file
