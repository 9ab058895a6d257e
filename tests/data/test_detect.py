import numpy as np
import pytest

from sketch2face.data import detect
from sketch2face.data.detect import detect_eyes, fallback_eyes
from sketch2face.data.records import EyeCentres
from sketch2face.data.synthetic import generate_demo_faces


@pytest.fixture(scope="module")
def faces():
    return list(generate_demo_faces(4, 256, seed=0, views_per_subject=1))


def _error(found: EyeCentres, truth: EyeCentres) -> float:
    return max(float(np.hypot(*np.subtract(a, b))) for a, b in ((found.left, truth.left), (found.right, truth.right)))


def test_finds_the_eyes_of_drawn_faces_and_sketches(faces):
    # The procedural demo faces are cartoons, not photos: the cascade misses one of the eight.
    found = [(detect_eyes(image), face.eyes) for face in faces for image in (face.photo, face.sketch)]
    hits = [(eyes, truth) for eyes, truth in found if eyes is not None]
    assert len(hits) >= 7
    for eyes, truth in hits:
        assert eyes.left[0] < eyes.right[0]
        assert _error(eyes, truth) < 0.2 * (truth.right[0] - truth.left[0])


def test_a_header_line_above_the_face_does_not_matter(faces):
    sketch = faces[0].sketch.copy()
    sketch = np.vstack([np.full((40, sketch.shape[1]), 255, np.uint8), sketch])
    sketch[15:22, 30:220:6] = 0  # handwritten-looking dashes
    found = detect_eyes(sketch)
    shifted = EyeCentres(
        (faces[0].eyes.left[0], faces[0].eyes.left[1] + 40), (faces[0].eyes.right[0], faces[0].eyes.right[1] + 40)
    )
    assert found is not None and _error(found, shifted) < 8


def test_no_face_gives_none():
    assert detect_eyes(np.full((120, 100), 200, np.uint8)) is None
    assert detect_eyes(np.random.default_rng(0).integers(0, 255, (90, 90, 3), dtype=np.uint8)) is None


def test_eyes_fall_back_to_face_box_fractions_when_the_eye_search_fails(faces, monkeypatch):
    monkeypatch.setattr(detect, "_eyes_in_face", lambda grey, face: None)
    found = detect_eyes(faces[0].photo)
    box = detect._largest_face(detect._greyscale(faces[0].photo))
    assert found == fallback_eyes(box) and found.estimated
    assert _error(found, faces[0].eyes) < 0.25 * (faces[0].eyes.right[0] - faces[0].eyes.left[0])


def test_fallback_geometry():
    eyes = fallback_eyes((10.0, 20.0, 100.0, 100.0))
    assert eyes.left == pytest.approx((10 + 100 * detect.FALLBACK_EYE_X[0], 20 + 100 * detect.FALLBACK_EYE_Y))
    assert eyes.right[1] == eyes.left[1] and eyes.right[0] > eyes.left[0]


def test_rejects_images_of_the_wrong_shape():
    with pytest.raises(ValueError, match="expected a greyscale"):
        detect_eyes(np.zeros((10, 10, 4), np.uint8))


@pytest.mark.parametrize("shape", [(2, 4000), (4000, 2), (1, 1), (30, 4000, 3), (4000, 23)], ids=str)
def test_an_image_too_thin_for_a_face_gives_none_not_an_opencv_error(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert detect_eyes(image) is None
    assert detect.detect_both_eyes(image) is None
