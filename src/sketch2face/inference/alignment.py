"""Aligning a new sketch like the training data: eyes found (or given), warped to the stored geometry."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from sketch2face.config import AlignmentParams, NoFacePolicy
from sketch2face.data.align import align_to_eyes, alignment_geometry, canonical_eyes, center_crop_resize
from sketch2face.data.images import (
    ColourMode,
    FaceSizeLimits,
    min_face_side,
    read_image,
)
from sketch2face.data.records import EyeCentres
from sketch2face.models.sketch_to_photo import SketchToPhoto

AlignMode = Literal["detect", "center", "none"]
ALIGN_MODES: tuple[str, ...] = get_args(AlignMode)
EyeLocator = Callable[[np.ndarray], EyeCentres | None]
DETECTOR_MODULE = "sketch2face.data.detect"
NO_FACE_FOUND = "no face found"
# how a written sketch was aligned, as counted in the summary
BY_DETECTED_EYES, BY_CENTRE_CROP, AS_GIVEN = "detected eyes", "center crop", "as given"
BY_FACE_BOX = "eyes placed in the face box"  # a face was found but not its eyes
BY_GIVEN_EYES = "given eyes"  # placed by a person (the web app)


class UnusableSketch(ValueError):
    """An input that cannot become a photo; `reason` is short enough for the summary."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class DetectorUnavailable(RuntimeError):
    """`--align detect` was asked for, but the face detector module is not installed."""


def detector_available() -> bool:
    return importlib.util.find_spec(DETECTOR_MODULE) is not None


def face_detector() -> EyeLocator:
    """The pipeline's eye detector, imported only when detection is asked for."""
    if not detector_available():
        raise DetectorUnavailable(
            f"face detection needs the module {DETECTOR_MODULE}, which this installation lacks; "
            "use --align center for sketches framed like the training data (face centred, "
            "filling the square) or --align none for sketches already aligned by crop_resize"
        )
    return importlib.import_module(DETECTOR_MODULE).detect_eyes


@dataclass(frozen=True)
class SketchAligner:
    """Brings a sketch file to the generator's input: S x S, its channels, the training geometry."""

    size: int
    channels: int
    geometry: AlignmentParams
    mode: AlignMode
    locate_eyes: EyeLocator | None = None
    no_face: NoFacePolicy = "reject"

    def __post_init__(self) -> None:
        if self.mode == "detect" and self.locate_eyes is None:
            raise ValueError("align mode 'detect' needs an eye locator")

    @property
    def size_limits(self) -> FaceSizeLimits:
        """The same limits as crop_resize's by default, for the model's output size."""
        return FaceSizeLimits(min_face_side(self.size))

    @classmethod
    def for_model(cls, model: SketchToPhoto, mode: AlignMode, **options) -> SketchAligner:
        config = model.config
        return cls(config.image_size, config.input_channels, alignment_geometry(model.preprocessing), mode, **options)

    @property
    def colour_mode(self) -> ColourMode:
        return "gray" if self.channels == 1 else "rgb"

    def __call__(self, path: Path) -> tuple[np.ndarray, str]:
        """The aligned sketch file and how it was aligned; raises ImageReadError or UnusableSketch."""
        aligned, method, _ = self.align(read_image(path, self.colour_mode, limits=self.size_limits), path)
        return aligned, method

    def find_eyes(self, image: np.ndarray, label: Path | str) -> tuple[EyeCentres, str]:
        """The eyes `align` lines up when it is given none, and how they were found.

        A centre crop (or a sketch used as given) gets the eyes that the crop puts on the
        training positions, marked estimated: nobody looked for them, so a person may correct them.
        """
        if self.mode == "none":
            height, width = image.shape[:2]
            if height != width:
                raise UnusableSketch(label, f"not square ({width}x{height}): --align none needs aligned sketches")
            return self._centre_crop_eyes(image), AS_GIVEN
        if self.mode == "detect":
            eyes = self.locate_eyes(image)
            if eyes is not None:
                return eyes, BY_FACE_BOX if eyes.estimated else BY_DETECTED_EYES
            if self.no_face == "reject":
                raise UnusableSketch(label, NO_FACE_FOUND)
        return self._centre_crop_eyes(image), BY_CENTRE_CROP

    def align(
        self, image: np.ndarray, label: Path | str, eyes: EyeCentres | None = None
    ) -> tuple[np.ndarray, str, EyeCentres]:
        """An image (read with `colour_mode`) aligned on `eyes` when given, else as `find_eyes` says.

        Returns the aligned sketch, how it was aligned and the eyes it was aligned on. `label`
        names the image in an `UnusableSketch`; given eyes must lie on the image, the left one
        (smaller x) first.
        """
        if eyes is not None:
            if eyes.left[0] >= eyes.right[0]:  # a flipped pair would turn the face upside down
                raise UnusableSketch(
                    label,
                    f"eyes in the wrong order: the left eye (x={eyes.left[0]:g}) must have a smaller x "
                    f"than the right eye (x={eyes.right[0]:g})",
                )
            return self._aligned_on(image, eyes, label, "given"), BY_GIVEN_EYES, eyes
        found, method = self.find_eyes(image, label)
        if method in (BY_CENTRE_CROP, AS_GIVEN):
            return center_crop_resize(image, self.size), method, found
        return self._aligned_on(image, found, label, "detected"), method, found

    def _aligned_on(self, image: np.ndarray, eyes: EyeCentres, label: Path | str, origin: str) -> np.ndarray:
        try:
            return align_to_eyes(image, eyes, self.geometry, self.size)
        except ValueError as exc:
            raise UnusableSketch(label, f"cannot align on the {origin} eyes ({exc})") from None

    def _centre_crop_eyes(self, image: np.ndarray) -> EyeCentres:
        """Where the eyes of `image` must be for `center_crop_resize` to put them on the training positions."""
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        step = side / self.size  # input pixels per output pixel, pixel centres at integers

        def back(point: tuple[float, float]) -> tuple[float, float]:
            return left + (point[0] + 0.5) * step - 0.5, top + (point[1] + 0.5) * step - 0.5

        target = canonical_eyes(self.geometry, self.size)
        return EyeCentres(back(target.left), back(target.right), estimated=True)
