"""Geometric normalisation: every photo and sketch ends up S x S with the eyes in the same place.

Photo and sketch are aligned separately to one canonical geometry, so pixel (x, y) of the
sketch corresponds to pixel (x, y) of the photo, which is what pix2pix's L1 loss assumes.
"""

from __future__ import annotations

import cv2
import numpy as np

from sketch2face.config import AlignmentParams
from sketch2face.data.records import EyeCentres


def canonical_eyes(geometry: AlignmentParams, size: int) -> EyeCentres:
    """Where the eye centres land in the S x S output."""
    half_gap = geometry.eye_distance * size / 2
    centre_x, eye_y = size / 2, geometry.eye_y * size
    return EyeCentres(left=(centre_x - half_gap, eye_y), right=(centre_x + half_gap, eye_y))


def eye_similarity(eyes: EyeCentres, target: EyeCentres) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, translation) mapping eyes to target."""
    source_vector = np.subtract(eyes.right, eyes.left)
    target_vector = np.subtract(target.right, target.left)
    source_length = float(np.hypot(*source_vector))
    if source_length < 1e-6:
        raise ValueError(f"eye centres coincide: {eyes}")
    scale = float(np.hypot(*target_vector)) / source_length
    angle = np.arctan2(target_vector[1], target_vector[0]) - np.arctan2(source_vector[1], source_vector[0])
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    translation = np.asarray(target.left) - linear @ np.asarray(eyes.left)
    return np.hstack([linear, translation[:, None]])


def align_to_eyes(image: np.ndarray, eyes: EyeCentres, geometry: AlignmentParams, size: int) -> np.ndarray:
    """Warps `image` so that its eye centres land on the canonical positions of an S x S output."""
    matrix = eye_similarity(eyes, canonical_eyes(geometry, size))
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square, resized to S x S: for images that are already roughly aligned."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(square, (size, size), interpolation=interpolation)
