import numpy as np
import pytest
from conftest import TINY_PREPROCESSING, TINY_SIZE
from PIL import Image

from sketch2face import inference
from sketch2face.config import AlignmentParams
from sketch2face.data.align import align_to_eyes, center_crop_resize
from sketch2face.data.records import EyeCentres
from sketch2face.inference import (
    NO_FACE_FOUND,
    DetectorUnavailable,
    SketchAligner,
    face_detector,
)

STORED_GEOMETRY = AlignmentParams(**TINY_PREPROCESSING["alignment"])


def test_detected_eyes_land_where_training_put_them(demo_sketches, tiny_model):
    align = SketchAligner.for_model(tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes)
    aligned, method = align(demo_sketches.folder / "face0.png")

    page, eyes = demo_sketches.pixels["face0"], demo_sketches.eyes["face0"]
    assert method == "detected eyes" and aligned.shape == (TINY_SIZE, TINY_SIZE)
    np.testing.assert_array_equal(aligned, align_to_eyes(page, eyes, STORED_GEOMETRY, TINY_SIZE))
    assert not np.array_equal(aligned, align_to_eyes(page, eyes, AlignmentParams(), TINY_SIZE))


def test_eyes_estimated_in_a_face_box_are_reported_as_such(demo_sketches, tiny_model):
    def estimated(image):
        eyes = demo_sketches.locate_eyes(image)
        return EyeCentres(eyes.left, eyes.right, estimated=True)

    _, method = SketchAligner.for_model(tiny_model, "detect", locate_eyes=estimated)(demo_sketches.folder / "face0.png")
    assert method == "eyes placed in the face box"


def test_no_face_is_a_failure_unless_centre_cropping_is_asked_for(tmp_path, demo_sketches, tiny_model):
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 60), 255).save(blank)

    with pytest.raises(inference.UnusableSketch, match=NO_FACE_FOUND):
        SketchAligner.for_model(tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes)(blank)
    lenient = SketchAligner.for_model(
        tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes, no_face="center_crop"
    )
    aligned, method = lenient(blank)
    assert method == "center crop" and aligned.shape == (TINY_SIZE, TINY_SIZE)


def test_align_modes_center_and_none(tmp_path, demo_sketches, tiny_model):
    page = demo_sketches.folder / "face1.png"
    aligned, method = SketchAligner.for_model(tiny_model, "center")(page)
    assert method == "center crop"
    np.testing.assert_array_equal(aligned, center_crop_resize(demo_sketches.pixels["face1"], TINY_SIZE))

    with pytest.raises(inference.UnusableSketch, match="not square"):
        SketchAligner.for_model(tiny_model, "none")(page)
    square = tmp_path / "square.png"
    Image.new("L", (TINY_SIZE, TINY_SIZE), 7).save(square)
    assert SketchAligner.for_model(tiny_model, "none")(square)[0].max() == 7


def test_detect_without_the_detector_module_explains_the_alternatives(monkeypatch, tiny_model):
    monkeypatch.setattr(inference.alignment, "DETECTOR_MODULE", "sketch2face.data.no_such_detector")
    with pytest.raises(DetectorUnavailable, match="--align center"):
        face_detector()
    with pytest.raises(ValueError, match="eye locator"):
        SketchAligner.for_model(tiny_model, "detect")


def test_given_eyes_override_the_detector(demo_sketches, tiny_model):
    page, eyes = demo_sketches.pixels["face2"], demo_sketches.eyes["face2"]
    moved = EyeCentres((eyes.left[0] - 3, eyes.left[1] + 2), eyes.right)
    align = SketchAligner.for_model(tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes)

    aligned, method, used = align.align(page, "upload", moved)

    assert method == "given eyes" and used == moved
    np.testing.assert_array_equal(aligned, align_to_eyes(page, moved, STORED_GEOMETRY, TINY_SIZE))
    assert not np.array_equal(aligned, align.align(page, "upload")[0])


@pytest.mark.parametrize(
    ("left", "right", "reason"),
    [
        ((60.0, 50.0), (30.0, 50.0), "eyes in the wrong order: the left eye (x=60) must have a smaller x"),
        ((40.0, 50.0), (40.0, 60.0), "eyes in the wrong order"),
        ((30.0, 50.0), (500.0, 50.0), "cannot align on the given eyes (eye centres outside the image"),
        ((30.0, float("nan")), (60.0, 50.0), "cannot align on the given eyes (eye centres are not finite"),
    ],
)
def test_given_eyes_off_the_image_or_in_the_wrong_order_are_refused(demo_sketches, tiny_model, left, right, reason):
    align = SketchAligner.for_model(tiny_model, "center")
    with pytest.raises(inference.UnusableSketch) as error:
        align.align(demo_sketches.pixels["face0"], "upload", EyeCentres(left, right))
    assert error.value.path == "upload" and error.value.reason.startswith(reason), error.value.reason


def test_a_centre_crop_reports_the_eyes_it_implies(tiny_model):
    """Aligning on those eyes redoes the centre crop: a person can start from them and correct them."""
    rows, columns = np.mgrid[0:128, 0:96]
    page = (127 + 100 * np.sin(rows / 9.0) * np.cos(columns / 7.0)).astype(np.uint8)  # smooth, 96 wide, 128 high
    align = SketchAligner.for_model(tiny_model, "center")

    eyes, method = align.find_eyes(page, "page")

    assert method == "center crop" and eyes.estimated
    assert eyes.left[1] == eyes.right[1] and 0 < eyes.left[0] < eyes.right[0] < 96
    on_eyes = align_to_eyes(page, eyes, STORED_GEOMETRY, TINY_SIZE).astype(int)
    assert align.align(page, "page")[1:] == ("center crop", eyes)
    assert np.abs(on_eyes - center_crop_resize(page, TINY_SIZE)).max() <= 2  # rounding; one pixel off gives 42


def test_no_face_fails_in_find_eyes_as_in_align(tmp_path, demo_sketches, tiny_model):
    align = SketchAligner.for_model(tiny_model, "detect", locate_eyes=demo_sketches.locate_eyes)
    with pytest.raises(inference.UnusableSketch, match=NO_FACE_FOUND):
        align.find_eyes(np.full((40, 60), 255, np.uint8), "blank")
    eyes, method = align.find_eyes(demo_sketches.pixels["face1"], "face1")
    assert (eyes, method) == (demo_sketches.eyes["face1"], "detected eyes")
    assert align.align(demo_sketches.pixels["face1"], "face1")[1:] == ("detected eyes", eyes)
