import cv2
import numpy as np
import pytest

from sketch2face.config import AlignmentParams
from sketch2face.data.align import align_to_eyes, canonical_eyes, center_crop_resize, eye_similarity
from sketch2face.data.records import EyeCentres

GEOMETRY = AlignmentParams(eye_y=0.4, eye_distance=0.5)


def _apply(matrix: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    return matrix @ np.array([*point, 1.0])


def test_canonical_eyes_sit_level_at_eye_y_and_eye_distance_apart_left_at_smaller_x():
    # eye_y=0.4, eye_distance=0.5 at S=64: the eye line at y=25.6, the eyes 32 px apart around x=32
    eyes = canonical_eyes(GEOMETRY, 64)
    assert eyes.left == pytest.approx((16.0, 25.6)) and eyes.right == pytest.approx((48.0, 25.6))


def test_similarity_maps_tilted_eyes_onto_canonical_positions():
    eyes = EyeCentres(left=(30.0, 50.0), right=(70.0, 60.0))
    target = canonical_eyes(GEOMETRY, 64)
    matrix = eye_similarity(eyes, target)
    np.testing.assert_allclose(_apply(matrix, eyes.left), target.left, atol=1e-9)
    np.testing.assert_allclose(_apply(matrix, eyes.right), target.right, atol=1e-9)
    linear = matrix[:, :2]
    assert linear[0, 0] == pytest.approx(linear[1, 1]) and linear[0, 1] == pytest.approx(-linear[1, 0])


def test_aligned_image_has_the_eye_marks_where_the_geometry_says():
    image = np.zeros((120, 100), dtype=np.uint8)
    eyes = EyeCentres(left=(35.0, 52.0), right=(66.0, 47.0))
    for x, y in (eyes.left, eyes.right):
        image[round(y) - 1 : round(y) + 2, round(x) - 1 : round(x) + 2] = 255
    aligned = align_to_eyes(image, eyes, GEOMETRY, 64)
    assert aligned.shape == (64, 64)
    for x, y in (canonical_eyes(GEOMETRY, 64).left, canonical_eyes(GEOMETRY, 64).right):
        assert aligned[round(y), round(x)] > 100


def test_alignment_keeps_the_top_of_the_face_at_the_top():
    image = np.zeros((120, 100), dtype=np.uint8)
    image[:40] = 255  # a bright band above the eyes: it ends 20 px above them, 16 px at the 0.8 scale
    aligned = align_to_eyes(image, EyeCentres(left=(30.0, 60.0), right=(70.0, 60.0)), GEOMETRY, 64)
    assert aligned[:8].min() == 255 and aligned[12:].max() == 0


def test_coincident_eyes_are_an_error():
    with pytest.raises(ValueError, match="coincide"):
        eye_similarity(EyeCentres((5.0, 5.0), (5.0, 5.0)), canonical_eyes(GEOMETRY, 32))


@pytest.mark.parametrize(
    ("left", "problem"),
    [
        ((float("nan"), 50.0), "not finite numbers"),
        ((30.0, -1.0), "outside the image"),
        ((101.0, 50.0), "outside the image"),
    ],
    ids=["nan", "above", "right of the image"],
)
def test_eyes_not_on_the_image_are_an_error_not_a_blank_face(left, problem):
    image = np.zeros((120, 100), dtype=np.uint8)
    with pytest.raises(
        ValueError, match=rf"eye centres (are )?{problem} \(left .*, right \(70, 60\); image 100x120 px\)"
    ):
        align_to_eyes(image, EyeCentres(left=left, right=(70.0, 60.0)), GEOMETRY, 64)


def test_eyes_on_the_edge_of_the_image_still_align():
    image = np.zeros((120, 100), dtype=np.uint8)
    assert align_to_eyes(image, EyeCentres(left=(0.0, 0.0), right=(100.0, 120.0)), GEOMETRY, 64).shape == (64, 64)


def test_center_crop_keeps_the_middle_square():
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[:, 20:60] = 200
    out = center_crop_resize(image, 16)
    assert out.shape == (16, 16, 3) and out.min() == 200


def test_shrinking_warp_averages_detail_finer_than_the_output_pixels():
    stripes = np.zeros((400, 400), dtype=np.uint8)
    stripes[:, ::2] = 255  # 1-pixel stripes: any point sampling at 1/4 scale aliases them
    eyes = EyeCentres(left=(136.0, 160.0), right=(264.0, 160.0))  # 128 px apart -> 32 px at size 64
    aligned = align_to_eyes(stripes, eyes, GEOMETRY, 64)
    assert aligned.mean() == pytest.approx(127.5, abs=2)
    assert aligned.std() < 3


@pytest.mark.parametrize("right_eye", [(264.0, 160.0), (250.0, 200.0)], ids=["level", "tilted"])
def test_shrinking_warp_puts_smooth_content_where_a_direct_warp_does(right_eye):
    rows, columns = np.mgrid[0:400, 0:400]
    smooth = (127 + 100 * np.sin(rows / 40) * np.cos(columns / 55)).astype(np.float32)
    eyes = EyeCentres(left=(136.0, 160.0), right=right_eye)
    direct = cv2.warpAffine(
        smooth, eye_similarity(eyes, canonical_eyes(GEOMETRY, 64)), (64, 64), flags=cv2.INTER_LINEAR
    )
    np.testing.assert_allclose(align_to_eyes(smooth, eyes, GEOMETRY, 64)[8:-8, 8:-8], direct[8:-8, 8:-8], atol=1.5)
