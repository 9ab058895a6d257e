import cv2
import numpy as np
import pytest

from sketch2face.evaluation.identity import Recogniser, chance_rate, face_vectors, rank1_hits

RNG = np.random.default_rng(2)
SIZE = 32


def _faces(subjects: int, views: int, offset: int) -> tuple[np.ndarray, list[str]]:
    """Each subject a smooth random pattern; its views add noise and a brightness change."""
    images, labels = [], []
    for subject in range(subjects):
        pattern = np.kron(RNG.uniform(40, 215, (8, 8, 3)), np.ones((SIZE // 8, SIZE // 8, 1)))
        for _ in range(views):
            view = pattern + RNG.normal(0, 12, pattern.shape) + RNG.uniform(-20, 20)
            images.append(np.clip(view, 0, 255).astype(np.uint8))
            labels.append(f"s{offset + subject}")
    return np.stack(images), labels


TRAIN, _ = _faces(12, 2, 0)
TEST, TEST_SUBJECTS = _faces(6, 2, 100)
RECOGNISER = Recogniser.fit(TRAIN, feature_size=16)


def test_faces_are_normalised_for_illumination():
    vectors = face_vectors(TEST[:2], 16)
    brighter = face_vectors(np.clip(TEST[:2].astype(int) + 10, 0, 255).astype(np.uint8), 16)
    assert vectors.shape == (2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1) and np.allclose(vectors.mean(axis=1), 0)
    assert np.allclose(vectors, brighter, atol=0.02)


def test_a_probe_nearest_to_another_subject_is_a_miss():
    probes = TEST[[2, 3, 0, 1]]  # subject s101's photos as probes of s100, and the other way round
    hits = rank1_hits(RECOGNISER.embed(probes), RECOGNISER.embed(TEST[:4]), TEST_SUBJECTS[:4])
    assert not hits.any()


def test_a_constant_probe_hits_only_the_subject_it_resembles():
    hits = rank1_hits(RECOGNISER.embed(TEST[:1]), RECOGNISER.embed(TEST), TEST_SUBJECTS)
    assert hits.shape == (len(TEST),)
    assert list(hits) == [subject == TEST_SUBJECTS[0] for subject in TEST_SUBJECTS]


def test_chance_rate_is_the_share_of_same_subject_gallery_photos():
    assert chance_rate(["a", "a", "b", "c"]) == pytest.approx((2 / 4 + 2 / 4 + 1 / 4 + 1 / 4) / 4)


def _noisy(images: np.ndarray, sigma: float = 10, rng: np.random.Generator = RNG) -> np.ndarray:
    return np.clip(images.astype(int) + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


def test_noisy_copies_of_unseen_subjects_are_identified():
    hits = rank1_hits(RECOGNISER.embed(_noisy(TEST)), RECOGNISER.embed(TEST), TEST_SUBJECTS)
    assert hits.mean() >= 0.9


def _similar_faces(rng: np.random.Generator, people: int, offset: int) -> tuple[np.ndarray, list[str]]:
    """One photo per person: nearly left-right symmetric, each a small change to a shared mean face."""
    symmetric = lambda pattern: (pattern + pattern[:, ::-1]) / 2  # noqa: E731
    mean_face = symmetric(np.random.default_rng(99).uniform(60, 190, (8, 8, 3)))
    faces = []
    for _ in range(people):
        pattern = mean_face + symmetric(rng.normal(0, 8, (8, 8, 3))) + rng.normal(0, 2, (8, 8, 3))
        faces.append(np.clip(cv2.resize(pattern, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC), 0, 255))
    return np.stack(faces).astype(np.uint8), [f"p{offset + person}" for person in range(people)]


def test_one_training_photo_per_person_is_enough():
    """CUFS has one photo per person. Fisherfaces (PCA + LDA on the photos and their mirror images)
    learnt only left-right asymmetry from that and identified 45 to 75% of these noisy copies."""
    rng = np.random.default_rng(0)
    train, _ = _similar_faces(rng, 40, 0)
    test, subjects = _similar_faces(rng, 20, 100)
    recogniser = Recogniser.fit(train, feature_size=16)
    noisy = _noisy(test, sigma=25, rng=rng)
    assert rank1_hits(recogniser.embed(noisy), recogniser.embed(test), subjects).mean() >= 0.9


def test_the_recogniser_is_fitted_on_the_training_photos_and_their_mirror_images():
    assert RECOGNISER.pca.n_samples_ == 2 * len(TRAIN)
    mean_face = RECOGNISER.pca.mean_.reshape(16, 16)
    assert np.allclose(mean_face, mean_face[:, ::-1]), "with the mirror images the mean face is symmetric"
