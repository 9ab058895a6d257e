"""Geometric normalisation: every photo and sketch ends up S x S with the eyes in the same place.

Photo and sketch are aligned separately to one canonical geometry, so pixel (x, y) of the
sketch corresponds to pixel (x, y) of the photo, which is what pix2pix's L1 loss assumes.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from sketch2face.config import AlignmentParams
from sketch2face.data.records import EyeCentres

GEOMETRY_KEYS = ("eye_y", "eye_distance")


def training_preprocessing(alignment: AlignmentParams) -> dict[str, dict[str, float]]:
    """What a generator file records about its training sketches (size and channels are in its config)."""
    return {"alignment": alignment.model_dump(include=set(GEOMETRY_KEYS))}


def alignment_geometry(preprocessing: Mapping[str, object]) -> AlignmentParams:
    """The geometry a generator file records; files written before it was stored get the default one."""
    return AlignmentParams(**dict(preprocessing.get("alignment") or {}))


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
        raise ValueError(f"eye centres coincide ({eyes})")
    scale = float(np.hypot(*target_vector)) / source_length
    angle = np.arctan2(target_vector[1], target_vector[0]) - np.arctan2(source_vector[1], source_vector[0])
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    translation = np.asarray(target.left) - linear @ np.asarray(eyes.left)
    return np.hstack([linear, translation[:, None]])


def _point(point: tuple[float, float]) -> str:
    return f"({point[0]:g}, {point[1]:g})"


def _check_eyes_in_image(eyes: EyeCentres, image: np.ndarray) -> None:
    """Raises ValueError for eyes that are not finite or lie off the image.

    Such eyes (a landmark file in the coordinates of another image, e.g. a 1024x768 original's
    fiducials next to its 200x250 crop) would warp to a blank, border-coloured face.
    """
    height, width = image.shape[:2]
    detail = f"left {_point(eyes.left)}, right {_point(eyes.right)}; image {width}x{height} px"
    if not np.isfinite([eyes.left, eyes.right]).all():
        raise ValueError(f"eye centres are not finite numbers ({detail})")
    if not all(0 <= x <= width and 0 <= y <= height for x, y in (eyes.left, eyes.right)):
        raise ValueError(f"eye centres outside the image ({detail})")


def align_to_eyes(image: np.ndarray, eyes: EyeCentres, geometry: AlignmentParams, size: int) -> np.ndarray:
    """Warps `image` so that its eye centres land on the canonical positions of an S x S output."""
    _check_eyes_in_image(eyes, image)
    matrix = eye_similarity(eyes, canonical_eyes(geometry, size))
    scale = float(np.hypot(*matrix[:, 0]))
    if scale < 1:
        image, matrix = shrunk_for_warp(image, matrix, scale)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def shrunk_for_warp(image: np.ndarray, matrix: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The image area-averaged down by `scale`, and the warp matrix that starts from it instead.

    warpAffine has no area filter (it reads INTER_AREA as bilinear), so a warp that shrinks a
    1024 x 768 scan to 64 x 64 would point-sample it and alias pencil hatching into moire.
    Shrinking first leaves the warp only rotation at about 1:1.
    """
    height, width = image.shape[:2]
    small_width, small_height = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(image, (small_width, small_height), interpolation=cv2.INTER_AREA)
    step_x, step_y = width / small_width, height / small_height
    # pixel centres: x = (x' + 0.5) * step - 0.5 maps the small image back onto the original
    small_to_original = np.array([[step_x, 0, (step_x - 1) / 2], [0, step_y, (step_y - 1) / 2], [0, 0, 1]])
    return small, matrix @ small_to_original


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square, resized to S x S: for images that are already roughly aligned."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(square, (size, size), interpolation=interpolation)
