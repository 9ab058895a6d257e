"""Turning new sketches into photos with a trained generator, aligned exactly as its training data.

A sketch (a cropped face or a whole scan) is read (`inputs`), aligned to the canonical geometry
stored in the generator file (`alignment`: eye centres from a detector, given by a person, or a
centre crop), run through the generator in batches and written as `<out>/<name>.png`, optionally
with `<name>_side_by_side.png` (`predict`). Every input is either written or listed with the
reason it was not. A generator trained with appearance hints takes each sketch's skin and hair
colour when a user gives them (`hints`); otherwise it guesses them. `predict` and the web app
share all of it.
"""

from sketch2face.colour import parse_colour
from sketch2face.inference.alignment import (
    ALIGN_MODES,
    AS_GIVEN,
    BY_CENTRE_CROP,
    BY_DETECTED_EYES,
    BY_FACE_BOX,
    BY_GIVEN_EYES,
    NO_FACE_FOUND,
    AlignMode,
    DetectorUnavailable,
    EyeLocator,
    SketchAligner,
    UnusableSketch,
    detector_available,
    face_detector,
)
from sketch2face.inference.hints import HintsError, SketchHints, check_hints_for_model, parse_hint, read_hints_file
from sketch2face.inference.inputs import Failure, SketchInput, collect_sketches, photo_path, side_by_side_path
from sketch2face.inference.loading import DEVICE_CHOICES, GeneratorFileError, load_sketch_to_photo
from sketch2face.inference.predict import PredictReport, generate_photos, predict_sketches, side_by_side

__all__ = [
    "ALIGN_MODES",
    "AS_GIVEN",
    "BY_CENTRE_CROP",
    "BY_DETECTED_EYES",
    "BY_FACE_BOX",
    "BY_GIVEN_EYES",
    "DEVICE_CHOICES",
    "NO_FACE_FOUND",
    "AlignMode",
    "DetectorUnavailable",
    "EyeLocator",
    "Failure",
    "GeneratorFileError",
    "HintsError",
    "PredictReport",
    "SketchAligner",
    "SketchHints",
    "SketchInput",
    "UnusableSketch",
    "check_hints_for_model",
    "collect_sketches",
    "detector_available",
    "face_detector",
    "generate_photos",
    "load_sketch_to_photo",
    "parse_colour",
    "parse_hint",
    "photo_path",
    "predict_sketches",
    "read_hints_file",
    "side_by_side",
    "side_by_side_path",
]
