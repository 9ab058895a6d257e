"""`sketch2face predict`: new sketches in, photos out, with a trained generator.

Exit status: 0 when at least one sketch became a photo (failures are listed in the summary),
1 when none could be processed or an output could not be written, 2 for a usage error or a
model that cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence, get_args

from tqdm import tqdm

from sketch2face.config import NoFacePolicy
from sketch2face.data.walk import printable
from sketch2face.inference import (
    ALIGN_MODES,
    DEVICE_CHOICES,
    AlignMode,
    DetectorUnavailable,
    Failure,
    GeneratorFileError,
    PredictReport,
    SketchAligner,
    collect_sketches,
    detector_available,
    face_detector,
    load_sketch_to_photo,
    predict_sketches,
)
from sketch2face.io import OutputError
from sketch2face.models.generator import SketchToPhoto
from sketch2face.training.device import resolve_device

DEFAULT_MODEL = Path("models/generator.pt")
EXIT_OK, EXIT_NOTHING_PROCESSED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or the model: reported in one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sketch2face", description="Turn face sketches into face photos.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="generate photos from sketch files or folders of sketches",
        description="Aligns each sketch like the training data, runs the generator and writes <OUT>/<name>.png.",
    )
    predict.add_argument("inputs", nargs="+", type=Path, metavar="SKETCH_OR_DIR", help="image files or folders (walked recursively)")
    predict.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="folder for the photos")
    source = predict.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"generator file (default {DEFAULT_MODEL})")
    source.add_argument("--model-uri", help="an MLflow model instead, e.g. models:/sketch2face@champion")
    predict.add_argument("--side-by-side", action="store_true", help="also write <name>_side_by_side.png (sketch | photo)")
    predict.add_argument("--batch-size", type=_positive_int, default=16, help="sketches per forward pass (default 16)")
    predict.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto: cuda, then mps, then cpu")
    predict.add_argument(
        "--align",
        choices=ALIGN_MODES,
        help="detect: find the eyes and align them like the training data (default when the detector is "
        "installed); center: largest centred square; none: the sketch is already aligned and square",
    )
    predict.add_argument(
        "--no-face",
        choices=get_args(NoFacePolicy),
        default="reject",
        help="with --align detect, what to do with a sketch where no face is found (default reject)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _load_model(args: argparse.Namespace) -> SketchToPhoto:
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.model_uri:
        from sketch2face.tracking import load_generator_model

        try:
            return load_generator_model(args.model_uri, device)
        except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; all mean "cannot load"
            raise UsageError(f"cannot load the MLflow model {args.model_uri}: {exc}") from None
    if not args.model.is_file():
        raise UsageError(f"model file not found: {args.model} (train one with `dvc repro`, or pass --model or --model-uri)")
    try:
        return load_sketch_to_photo(args.model, device)
    except (GeneratorFileError, OSError) as exc:
        problem = exc if isinstance(exc, GeneratorFileError) else exc.strerror or exc
        raise UsageError(f"cannot load the generator file {args.model} (is it a generator.pt?): {problem}") from None


def _aligner(args: argparse.Namespace, model: SketchToPhoto) -> SketchAligner:
    mode: AlignMode | None = args.align
    if mode is None:
        mode = "detect" if detector_available() else "center"
        if mode == "center":
            print(
                "note: face detection is not installed, so sketches are centre-cropped (--align center); "
                "this suits sketches framed like the training data",
                file=sys.stderr,
            )
    try:
        locate_eyes = face_detector() if mode == "detect" else None
    except DetectorUnavailable as exc:
        raise UsageError(str(exc)) from None
    no_face: NoFacePolicy = args.no_face
    return SketchAligner.for_model(model, mode, locate_eyes=locate_eyes, no_face=no_face)


def summarise(report: PredictReport, out_dir: Path) -> str:
    """Counts that add up to every input, how the written ones were aligned, and every failure.

    File names that are not UTF-8 are shown with those bytes escaped (stdout would refuse them).
    """
    lines = [f"processed {len(report.written)}, failed {len(report.failures)}; photos in {out_dir}"]
    if report.written:
        methods = ", ".join(f"{count} {method}" for method, count in sorted(report.alignment_counts().items()))
        lines.append(f"aligned by: {methods}")
    if report.failures:
        lines.append("failed:")
        lines.extend(f"  {failure.path}: {failure.reason}" for failure in report.failures)
    return printable("\n".join(lines))


def predict(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"{args.output} is a file; -o takes the folder the photos go to")
    model = _load_model(args)
    align = _aligner(args, model)
    inputs, failures = collect_sketches(args.inputs, args.output)
    for failure in failures:
        _report_failure(failure)

    report = predict_sketches(
        inputs,
        model,
        align,
        args.output,
        batch_size=args.batch_size,
        with_side_by_side=args.side_by_side,
        on_failure=_report_failure,
        progress=len(inputs) > 1,
    )
    report.failures[:0] = failures
    print(summarise(report, args.output))
    return EXIT_OK if report.written else EXIT_NOTHING_PROCESSED


def _report_failure(failure: Failure) -> None:
    tqdm.write(printable(f"skipped {failure.path}: {failure.reason}"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return predict(args)
    except UsageError as exc:
        print(f"sketch2face {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as exc:  # disk full, permission denied: photos written so far stay
        print(f"sketch2face {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED


if __name__ == "__main__":
    sys.exit(main())
