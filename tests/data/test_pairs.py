import numpy as np
import pandas as pd
from PIL import Image

from sketch2face.config import AssemblePairsParams
from sketch2face.data.pairs import PAIRS_FILE, assemble_pairs, split_subjects


def test_split_is_subject_disjoint_seeded_and_close_to_the_fractions():
    subjects = pd.Series([f"s{i // 2}" for i in range(200)])
    params = AssemblePairsParams(seed=1, val_fraction=0.1, test_fraction=0.2)
    splits = split_subjects(subjects, params)
    assert splits.groupby(subjects).nunique().max() == 1
    counts = splits.value_counts()
    assert abs(counts["test"] - 40) <= 2 and abs(counts["val"] - 20) <= 2
    assert splits.equals(split_subjects(subjects, params))
    assert not splits.equals(split_subjects(subjects, AssemblePairsParams(seed=2)))


def test_ab_images_put_the_sketch_left_and_the_photo_right(tmp_path):
    faces = tmp_path / "faces"
    (faces / "photos").mkdir(parents=True)
    (faces / "sketches").mkdir()
    rows = []
    for index in range(5):
        Image.fromarray(np.full((8, 8, 3), (200, 10, 10), dtype=np.uint8)).save(faces / f"photos/f{index}.png")
        Image.fromarray(np.full((8, 8), 60, dtype=np.uint8)).save(faces / f"sketches/f{index}.png")
        rows.append({"id": f"src/f{index}", "source": "src", "subject": f"s{index}",
                     "photo": f"photos/f{index}.png", "sketch": f"sketches/f{index}.png", "gender": "female"})
    pd.DataFrame(rows).to_csv(faces / "manifest.csv", index=False)

    pairs = assemble_pairs(faces, tmp_path / "pairs", AssemblePairsParams(val_fraction=0.2, test_fraction=0.2))

    assert len(pairs) == 5 and set(pairs["split"]) == {"train", "val", "test"}
    assert list(pd.read_csv(tmp_path / "pairs" / PAIRS_FILE)["gender"]) == ["female"] * 5
    ab = np.asarray(Image.open(tmp_path / "pairs" / pairs["pair"][0]))
    assert ab.shape == (8, 16, 3)
    assert (ab[:, :8] == 60).all() and (ab[:, 8:] == (200, 10, 10)).all()
