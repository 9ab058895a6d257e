import numpy as np
import pytest
import torch
from conftest import TINY_SIZE
from PIL import Image

from sketch2face.data.images import ImageReadError, read_image
from sketch2face.inference import (
    SketchAligner,
    SketchInput,
    predict_sketches,
)


def test_predict_writes_photos_and_side_by_sides_in_batches(tmp_path, demo_sketches, tiny_model):
    align = SketchAligner.for_model(tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes)
    report = predict_sketches(demo_sketches.inputs(), tiny_model, align, tmp_path, batch_size=2, with_side_by_side=True)

    assert [item.name for item, _ in report.written] == ["face0", "face1", "face2"] and not report.failures
    for stem in ("face0", "face1", "face2"):
        aligned, _ = align(demo_sketches.folder / f"{stem}.png")
        alone = tiny_model(torch.from_numpy(aligned)[None, None])[0].permute(1, 2, 0).numpy()
        photo = read_image(tmp_path / f"{stem}.png", "rgb")
        np.testing.assert_array_equal(photo, alone)  # batching changes nothing: inference mode
        pair = read_image(tmp_path / f"{stem}_side_by_side.png", "rgb")
        assert pair.shape == (TINY_SIZE, 2 * TINY_SIZE, 3)
        np.testing.assert_array_equal(pair[:, :TINY_SIZE, 0], aligned)
        np.testing.assert_array_equal(pair[:, TINY_SIZE:], photo)


def test_bad_files_are_reported_and_the_good_ones_still_written(tmp_path, demo_sketches, tiny_model):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.png").write_bytes(b"")
    (bad / "text.png").write_text("not a picture")
    whole = (demo_sketches.folder / "face0.png").read_bytes()
    (bad / "truncated.png").write_bytes(whole[: len(whole) // 2])
    inputs = [
        *demo_sketches.inputs(),
        *(SketchInput(bad / name, name) for name in ("empty.png", "text.png", "truncated.png")),
    ]

    align = SketchAligner.for_model(tiny_model, "center")
    seen = []
    report = predict_sketches(inputs, tiny_model, align, tmp_path / "out", batch_size=4, on_failure=seen.append)

    reasons = {failure.path.rsplit("/", 1)[-1]: failure.reason for failure in report.failures}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["text.png"] == "not a readable image"
    assert reasons["truncated.png"] == "truncated image"
    assert seen == report.failures
    assert len(report.written) == 3 and len(report.written) + len(report.failures) == len(inputs)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["face0.png", "face1.png", "face2.png"]


@pytest.mark.parametrize("mode", ["detect", "center", "none"])
def test_sketches_too_small_or_narrow_for_the_model_are_failures_in_every_align_mode(
    tmp_path, demo_sketches, tiny_model, mode
):
    Image.new("L", (7, 7), 255).save(tmp_path / "dot.png")  # the tiny model is 32 px: the shortest side is 8
    Image.new("L", (200, 40), 255).save(tmp_path / "strip.png")
    align = SketchAligner.for_model(tiny_model, mode, locate_eyes=demo_sketches.locate_eyes, no_face="center_crop")

    expected = {
        "dot.png": "too small to hold a face (7x7 px; shorter side under 8 px)",
        "strip.png": "extreme aspect ratio (200x40 px; the longer side is over 4 times the shorter)",
    }
    for name, reason in expected.items():
        with pytest.raises(ImageReadError) as error:
            align(tmp_path / name)
        assert error.value.reason == reason
