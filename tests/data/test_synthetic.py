"""Tests for the procedural demo dataset: determinism, coverage of groups, and that the
photo and sketch are faithful to the geometry they claim (eyes, skin tone, structure)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from sketch2face.data.synthetic import (
    DemoFace,
    EyeCentres,
    generate_demo_faces,
    photo_to_sketch,
    render_subject,
)

TONES = ["I", "II", "III", "IV", "V", "VI"]


def _luma(photo: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float64)


def _patch_mean(image: np.ndarray, x: float, y: float, radius: int = 1) -> float:
    cx, cy = round(x), round(y)
    return float(image[cy - radius : cy + radius + 1, cx - radius : cx + radius + 1].mean())


def _cheek_points(face: DemoFace) -> list[tuple[float, float]]:
    """Skin below each eye, half an interocular distance down (above any beard or blush peak)."""
    (lx, ly), (rx, ry) = face.eyes.left, face.eyes.right
    d = rx - lx
    return [(lx, ly + 0.5 * d), (rx, ry + 0.5 * d)]


@pytest.fixture(scope="module")
def faces48() -> list[DemoFace]:
    return list(generate_demo_faces(48, 64, seed=11, views_per_subject=1))


def test_same_seed_is_deterministic_and_other_seed_differs() -> None:
    a = list(generate_demo_faces(4, 64, seed=3, views_per_subject=2))
    b = list(generate_demo_faces(4, 64, seed=3, views_per_subject=2))
    c = list(generate_demo_faces(4, 64, seed=4, views_per_subject=2))
    for fa, fb in zip(a, b, strict=True):
        assert np.array_equal(fa.photo, fb.photo)
        assert np.array_equal(fa.sketch, fb.sketch)
        assert fa.eyes == fb.eyes and fa.attributes == fb.attributes
    assert not any(np.array_equal(fa.photo, fc.photo) for fa, fc in zip(a, c, strict=True))


def test_shapes_dtypes_and_exact_count() -> None:
    faces = list(generate_demo_faces(5, 64, seed=0, views_per_subject=2))
    assert len(faces) == 5
    assert [f.subject for f in faces] == ["s0000", "s0000", "s0001", "s0001", "s0002"]
    assert [f.view for f in faces] == [0, 1, 0, 1, 0]
    for face in faces:
        assert face.photo.shape == (64, 64, 3) and face.photo.dtype == np.uint8
        assert face.sketch.shape == (64, 64) and face.sketch.dtype == np.uint8
        assert isinstance(face.eyes, EyeCentres)
        for key in ("gender", "tone_group", "hair_colour", "hair_style", "face_shape", "facial_hair"):
            assert isinstance(face.attributes[key], str)
    assert list(generate_demo_faces(0, 64, seed=0, views_per_subject=3)) == []
    assert len(list(generate_demo_faces(7, 32, seed=0, views_per_subject=3))) == 7


def test_views_share_identity_but_differ_in_rendering() -> None:
    views = render_subject(np.random.default_rng(5), "s0042", 64, 3)
    assert [v.view for v in views] == [0, 1, 2]
    assert {v.subject for v in views} == {"s0042"}
    assert all(v.attributes == views[0].attributes for v in views)
    assert not np.array_equal(views[0].photo, views[1].photo)
    # Fewer views of the same rng give a prefix of the same faces.
    prefix = render_subject(np.random.default_rng(5), "s0042", 64, 2)
    assert np.array_equal(prefix[1].photo, views[1].photo)


def test_render_subject_can_pin_gender_and_tone() -> None:
    (face,) = render_subject(np.random.default_rng(1), "s0001", 64, 1, gender="female", tone_group="V")
    assert face.attributes["gender"] == "female" and face.attributes["tone_group"] == "V"
    assert face.attributes["facial_hair"] == "none"
    with pytest.raises(ValueError, match=r"unknown gender 'female' or tone group 'VII'"):
        render_subject(np.random.default_rng(1), "s0001", 64, 1, gender="female", tone_group="VII")


def test_small_sets_cover_all_tone_groups_and_both_genders() -> None:
    faces = list(generate_demo_faces(24, 32, seed=2, views_per_subject=2))
    assert {f.attributes["tone_group"] for f in faces} == set(TONES)
    assert {f.attributes["gender"] for f in faces} == {"male", "female"}
    pairs = {(f.attributes["tone_group"], f.attributes["gender"]) for f in faces}
    assert len(pairs) == 12  # 12 subjects hold every (tone, gender) pair


def test_mean_skin_luminance_decreases_with_tone_group(faces48: list[DemoFace]) -> None:
    by_group: dict[str, list[float]] = {t: [] for t in TONES}
    for face in faces48:
        luma = _luma(face.photo)
        by_group[face.attributes["tone_group"]].append(
            np.mean([_patch_mean(luma, x, y) for x, y in _cheek_points(face)])
        )
    means = [float(np.mean(by_group[t])) for t in TONES]
    assert all(len(by_group[t]) == 8 for t in TONES)
    assert all(lighter > darker + 5 for lighter, darker in itertools.pairwise(means)), means


def test_sketch_is_bright_paper_with_dark_strokes(faces48: list[DemoFace]) -> None:
    for face in faces48:
        assert np.median(face.sketch) > 180
        assert (face.sketch < 110).mean() > 0.01


def test_sketch_edges_follow_its_own_photo(faces48: list[DemoFace]) -> None:
    def edges(image: np.ndarray, sigma: float) -> np.ndarray:
        g = cv2.GaussianBlur(image.astype(np.float64), (0, 0), sigma)  # sigma washes out hatching
        mag = np.hypot(cv2.Sobel(g, cv2.CV_64F, 1, 0), cv2.Sobel(g, cv2.CV_64F, 0, 1))
        return cv2.GaussianBlur(mag, (0, 0), 1.5).ravel()

    for i, face in enumerate(faces48):
        sketch_edges = edges(face.sketch, 1.5)
        own = np.corrcoef(sketch_edges, edges(_luma(face.photo), 1.0))[0, 1]
        # Offset 6 is the same tone group, other gender; offset 1 a neighbouring tone group.
        for offset in (1, 6):
            other = faces48[(i + offset) % len(faces48)]
            foreign = np.corrcoef(sketch_edges, edges(_luma(other.photo), 1.0))[0, 1]
            assert own > foreign + 0.05, (face.subject, own, foreign)


def test_photo_to_sketch_is_deterministic_given_rng(faces48: list[DemoFace]) -> None:
    photo = faces48[0].photo
    a = photo_to_sketch(photo, np.random.default_rng(9))
    b = photo_to_sketch(photo, np.random.default_rng(9))
    assert np.array_equal(a, b) and a.shape == photo.shape[:2] and a.dtype == np.uint8
    with pytest.raises(ValueError, match=r"photo_rgb must be an \(H, W, 3\) uint8 RGB image"):
        photo_to_sketch(photo[..., 0], np.random.default_rng(9))


def test_eye_centres_are_inside_and_darker_than_surrounding_skin() -> None:
    faces = list(generate_demo_faces(24, 128, seed=5, views_per_subject=2))
    for face in faces:
        (lx, ly), (rx, ry) = face.eyes.left, face.eyes.right
        assert 0 < lx < rx < 128 and 0 < ly < 128 and 0 < ry < 128
        assert abs(ly - ry) < 0.2 * (rx - lx)  # near-frontal
        luma = _luma(face.photo)
        skin = np.mean([_patch_mean(luma, x, y) for x, y in _cheek_points(face)])
        for x, y in ((lx, ly), (rx, ry)):
            assert _patch_mean(luma, x, y, radius=0) < skin  # the pupil
            assert _patch_mean(face.sketch.astype(np.float64), x, y) < np.median(face.sketch)
