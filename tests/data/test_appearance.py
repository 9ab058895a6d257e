import numpy as np
import pytest

from sketch2face.colour import delta_e, parse_colour, srgb_to_lab
from sketch2face.config import AlignmentParams
from sketch2face.data.align import align_to_eyes, canonical_eyes
from sketch2face.data.appearance import hair_region, measure_appearance, skin_region
from sketch2face.data.synthetic import TONE_GROUPS, generate_demo_faces

SKIN, HAIR, BACKGROUND = (141, 85, 36), (58, 38, 26), (170, 200, 230)


def flat_face(geometry: AlignmentParams, size: int, skin=SKIN, hair=HAIR, hairline: float = 0.9, seed: int = 0):
    """An aligned photo with flat colours and noise: hair from the top down to `hairline` eye distances above the
    eyes, a skin-coloured face below, dark eyes and brows, a red mouth, a background beside the face."""
    eyes = canonical_eyes(geometry, size)
    distance, (eye_y, centre) = eyes.right[0] - eyes.left[0], (eyes.left[1], size / 2)
    rows, columns = np.mgrid[:size, :size]
    photo = np.empty((size, size, 3), np.float64)
    photo[:] = BACKGROUND
    head = ((columns - centre) / (1.1 * distance)) ** 2 + ((rows - eye_y - 0.3 * distance) / (2.0 * distance)) ** 2 < 1
    photo[head] = skin
    photo[head & (rows < eye_y - hairline * distance)] = hair
    for x, y in (eyes.left, eyes.right):
        photo[(np.hypot(columns - x, rows - y) < 0.12 * distance)] = (30, 20, 20)  # eyes
        photo[(abs(rows - y + 0.25 * distance) < 0.04 * distance) & (abs(columns - x) < 0.2 * distance)] = hair  # brows
    mouth = (abs(rows - eye_y - 1.0 * distance) < 0.06 * distance) & (abs(columns - centre) < 0.3 * distance)
    photo[mouth] = (180, 40, 50)
    noisy = photo + np.random.default_rng(seed).normal(0, 6, photo.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("geometry", [AlignmentParams(), AlignmentParams(eye_y=0.5, eye_distance=0.3)])
@pytest.mark.parametrize(
    ("skin", "hair"), [(SKIN, HAIR), ((246, 218, 196), (202, 166, 106)), ((78, 50, 36), (26, 22, 20))]
)
def test_skin_and_hair_of_a_flat_coloured_face_are_measured_within_5_units(size, geometry, skin, hair):
    measured = measure_appearance(flat_face(geometry, size, skin, hair), geometry)
    assert delta_e(measured.skin, srgb_to_lab(np.array(skin))) < 5
    assert delta_e(measured.hair, srgb_to_lab(np.array(hair))) < 5


def test_forehead_under_a_high_hairline_does_not_pull_the_hair_towards_skin():
    geometry = AlignmentParams()
    high = flat_face(geometry, 64, hairline=1.05)  # most of the hair band shows forehead
    eyes = canonical_eyes(geometry, 64)
    band = high[hair_region(geometry, 64)]
    assert (np.abs(band.astype(int) - SKIN).sum(axis=-1) < 40).mean() > 0.5
    assert delta_e(measure_appearance(high, geometry).hair, srgb_to_lab(np.array(HAIR))) < 5
    skin_rows = skin_region(geometry, 64)[0]
    assert skin_rows.start > eyes.left[1] and skin_rows.stop < eyes.left[1] + eyes.right[0] - eyes.left[0]


def test_columns_are_rounded_and_named_per_hint():
    columns = measure_appearance(flat_face(AlignmentParams(), 64), AlignmentParams()).columns()
    assert list(columns) == ["skin_L", "skin_a", "skin_b", "hair_L", "hair_a", "hair_b"]
    assert all(round(value, 1) == value for value in columns.values())


def test_demo_faces_measure_darker_skin_for_darker_tone_groups_and_their_hair_colour():
    geometry = AlignmentParams()
    lightness = {group: [] for group in TONE_GROUPS}
    hair_errors = []
    for face in generate_demo_faces(count=24, size=128, seed=0, views_per_subject=1):
        measured = measure_appearance(align_to_eyes(face.photo, face.eyes, geometry, 64), geometry)
        lightness[face.attributes["tone_group"]].append(measured.skin[0])
        if face.attributes["hair_style"] not in ("bald", "buzz"):  # no hair band to measure
            hair_errors.append(delta_e(measured.hair, parse_colour(face.attributes["hair_colour"])))
    means = [np.mean(values) for values in lightness.values()]
    assert means == sorted(means, reverse=True) and means[0] - means[-1] > 50
    assert np.median(hair_errors) < 5


def test_a_photo_that_is_not_square_rgb_is_refused():
    with pytest.raises(ValueError, match=r"S x S x 3 RGB, got shape \(64, 64\)"):
        measure_appearance(np.zeros((64, 64), np.uint8), AlignmentParams())
