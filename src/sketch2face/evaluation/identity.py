"""Does a generated photo still look like the right person? Rank-1 identification, classically.

The recogniser is Fisherfaces (PCA then LDA on pixels, Belhumeur et al. 1997), the family that
face-sketch papers use (NLDA), fitted on the TRAINING photos only, so no weights are downloaded
and the test identities are never seen while fitting. Its input is the luma of a face resized
to `feature_size` x `feature_size` and normalised to zero mean and unit norm (illumination).
Each training subject is a class; every training photo and its mirror image are samples, so a
class always has at least two samples, even in datasets with one photo per person (CUFS).

Identification: the gallery is every real test photo (one per test face id); each probe (a
generated photo, or a baseline's image) is matched to the gallery photo with the highest cosine
similarity in the LDA space; a hit is a match with the probe's own subject. With several views
per subject, any real photo of the same subject counts as a hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from sketch2face.data.images import luma


def face_vectors(images: np.ndarray, feature_size: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, feature_size^2) luma vectors with zero mean and unit norm."""
    size = (feature_size, feature_size)
    grey = (luma(image[None])[0, :, :, 0] for image in images)
    small = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in grey])
    vectors = small.reshape(len(images), -1).astype(np.float64)
    vectors -= vectors.mean(axis=1, keepdims=True)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Recogniser:
    """A fitted PCA + LDA projection; `embed` maps faces to unit vectors for cosine matching."""

    pca: PCA
    lda: LinearDiscriminantAnalysis
    feature_size: int

    @classmethod
    def fit(cls, photos: np.ndarray, subjects: list[str], feature_size: int) -> Recogniser:
        if len(set(subjects)) < 2:
            raise ValueError(f"the identity recogniser needs at least 2 training subjects, got {len(set(subjects))}")
        vectors = face_vectors(np.concatenate([photos, photos[:, :, ::-1]]), feature_size)
        labels = np.array(list(subjects) * 2)
        classes = len(set(subjects))
        # Fisherfaces: keep N - c principal components so the within-class scatter is not singular
        components = max(1, min(len(vectors) - classes, vectors.shape[1]))
        pca = PCA(n_components=components, svd_solver="full").fit(vectors)
        lda = LinearDiscriminantAnalysis(solver="svd").fit(pca.transform(vectors), labels)
        return cls(pca, lda, feature_size)

    def embed(self, images: np.ndarray) -> np.ndarray:
        projected = self.lda.transform(self.pca.transform(face_vectors(images, self.feature_size)))
        return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)


def rank1_hits(probes: np.ndarray, gallery: np.ndarray, subjects: list[str]) -> np.ndarray:
    """hits[i]: the gallery face nearest to probe i shows subjects[i]; probe i is of gallery face i.

    Both are `Recogniser.embed` outputs. A single probe (the mean-photo baseline) is matched once
    and stands for every probe.
    """
    nearest = np.broadcast_to((probes @ gallery.T).argmax(axis=1), (len(subjects),))
    labels = np.asarray(subjects)
    return labels[nearest] == labels


def chance_rate(subjects: list[str]) -> float:
    """Expected rank-1 rate of a random guess: a probe's share of same-subject gallery photos."""
    labels = np.asarray(subjects)
    return float(np.mean([(labels == label).sum() / len(labels) for label in labels]))
