import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sketch2face.config import CropResizeParams, SourceParams
from sketch2face.data.faces import MANIFEST_FILE, REJECTS_FILE, build_faces


def _pairs_folder(root, names, corrupt=()):
    for folder in ("photos", "sketches"):
        (root / folder).mkdir(parents=True)
        for index, name in enumerate(names):
            path = root / folder / f"{name}.png"
            if name in corrupt and folder == "photos":
                path.write_bytes(b"\x89PNG truncated")
            else:
                Image.fromarray(np.full((30, 40, 3), 20 * index, dtype=np.uint8)).save(path)


def test_counts_add_up_and_outputs_are_square(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a", "b", "c"], corrupt={"c"})
    (raw / "sketches" / "orphan.png").write_bytes((raw / "sketches" / "a.png").read_bytes())
    params = CropResizeParams(image_size=32, sources=(SourceParams(name="p", kind="pairs", root=raw),))

    report = build_faces(params, tmp_path / "faces")

    manifest = pd.read_csv(tmp_path / "faces" / MANIFEST_FILE)
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert (report.used, report.rejected) == (2, 2)
    assert list(manifest["id"]) == ["p/a", "p/b"]
    assert set(manifest["photo_alignment"]) == {"center_crop"}
    assert sorted(rejects["reason"].str.split(" ").str[0]) == ["not", "sketch"]  # "not a readable image", "sketch without a photo"
    photo = np.asarray(Image.open(tmp_path / "faces" / manifest["photo"][0]))
    sketch = np.asarray(Image.open(tmp_path / "faces" / manifest["sketch"][0]))
    assert photo.shape == (32, 32, 3) and sketch.shape == (32, 32)


def test_reject_policy_without_landmarks_leaves_a_reason_per_pair(tmp_path):
    raw = tmp_path / "raw"
    _pairs_folder(raw, ["a"])
    params = CropResizeParams(
        image_size=32,
        sources=(SourceParams(name="p", kind="pairs", root=raw),),
        alignment={"no_landmarks": "reject"},
    )
    with pytest.raises(ValueError, match="no usable face pairs"):
        build_faces(params, tmp_path / "faces")
    rejects = pd.read_csv(tmp_path / "faces" / REJECTS_FILE)
    assert list(rejects["reason"]) == ["no landmarks and no_landmarks policy is 'reject'"]


def test_missing_source_root_is_a_clear_error(tmp_path):
    params = CropResizeParams(sources=(SourceParams(name="x", kind="pairs", root=tmp_path / "nope"),))
    with pytest.raises(ValueError, match="source 'x': root folder .*nope does not exist"):
        build_faces(params, tmp_path / "faces")
