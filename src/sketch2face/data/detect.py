"""Eye-centre detection for images that ship no landmarks (photos and scanned sketches alike).

OpenCV's Haar cascades (bundled with opencv-python-headless, so nothing is downloaded) find the
largest frontal face, then the eyes in the upper half of that face. When the face is found but
the eyes are not (closed eyes, glasses, pencil strokes), the eyes are placed at the typical
fractions of the face box, which is still far better than a blind centre crop. Images are
searched at a reduced size: a face fills much of a portrait, and full-size search of a
1024x768 photo is several times slower for the same answer.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from sketch2face.data.records import EyeCentres

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADES = ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")
SEARCH_SIDE = 480  # longest side the face search runs at
MIN_FACE_FRACTION = 0.2  # a face narrower than this fraction of the shorter side is noise (e.g. a header line)
HAAR_WINDOW = 24  # the face cascade's window: the smallest face it can find, in pixels of the searched image
EYE_ROI_SIDE = 200  # the face box is rescaled to this width before the eye search
# Typical eye centres as fractions of the Haar face box (measured on CUHK photos and sketches).
FALLBACK_EYE_X = (0.31, 0.67)
FALLBACK_EYE_Y = 0.385


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV cascade {path} could not be loaded")
    return classifier


def _greyscale(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected a greyscale (H, W) or RGB (H, W, 3) image, got shape {image.shape}")


def _largest_face(grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """The largest frontal face as (x, y, w, h) in the coordinates of `grey`.

    None without searching when the image, at search size, is thinner than the cascade's window
    (a 4000x2 strip would even shrink to no rows at all).
    """
    scale = min(1.0, SEARCH_SIDE / max(grey.shape))
    if min(round(side * scale) for side in grey.shape) < HAAR_WINDOW:
        return None
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    small = cv2.equalizeHist(small)
    min_side = max(HAAR_WINDOW, int(MIN_FACE_FRACTION * min(small.shape)))
    faces = _cascade(FACE_CASCADE).detectMultiScale(
        small, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
    return float(x / scale), float(y / scale), float(w / scale), float(h / scale)


def _eyes_in_face(grey: np.ndarray, face: tuple[float, float, float, float]) -> EyeCentres | None:
    """One eye in each upper quarter of the face box, or None when either side has no candidate."""
    x, y, w, h = face
    top, bottom, left, right = int(y + 0.15 * h), int(y + 0.6 * h), int(x), int(x + w)
    roi = grey[max(top, 0) : bottom, max(left, 0) : right]
    if roi.size == 0:
        return None
    scale = EYE_ROI_SIDE / roi.shape[1]
    roi = cv2.equalizeHist(cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    half = roi.shape[1] / 2
    for name in EYE_CASCADES:
        found = _cascade(name).detectMultiScale(
            roi, scaleFactor=1.1, minNeighbors=4, minSize=(18, 18), maxSize=(80, 80)
        )
        centres = [(ex + ew / 2, ey + eh / 2, ew) for ex, ey, ew, eh in found]
        sides = [[c for c in centres if (c[0] < half) == is_left] for is_left in (True, False)]
        if all(sides):
            chosen = [max(side, key=lambda c: c[2]) for side in sides]
            points = [(float(max(left, 0) + cx / scale), float(max(top, 0) + cy / scale)) for cx, cy, _ in chosen]
            return EyeCentres(left=points[0], right=points[1])
    return None


def fallback_eyes(face: tuple[float, float, float, float]) -> EyeCentres:
    """Eye centres at the typical fractions of a face box, marked as estimated."""
    x, y, w, h = face
    eye_y = y + FALLBACK_EYE_Y * h
    return EyeCentres(left=(x + FALLBACK_EYE_X[0] * w, eye_y), right=(x + FALLBACK_EYE_X[1] * w, eye_y), estimated=True)


def detect_eyes(image: np.ndarray) -> EyeCentres | None:
    """Eye centres (pixels, `left` = smaller x) of the largest face in a uint8 greyscale or RGB image.

    Returns None when no face is found. When the face is found but not both eyes, the eyes are
    placed at typical positions within the face box.
    """
    grey = _greyscale(np.ascontiguousarray(image))
    face = _largest_face(grey)
    if face is None:
        return None
    return _eyes_in_face(grey, face) or fallback_eyes(face)


def detect_both_eyes(image: np.ndarray) -> EyeCentres | None:
    """Like `detect_eyes`, but None unless the eye cascades found both eyes (for measuring alignment)."""
    grey = _greyscale(np.ascontiguousarray(image))
    face = _largest_face(grey)
    return None if face is None else _eyes_in_face(grey, face)
