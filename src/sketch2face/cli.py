"""`sketch2face predict`: new sketches in, photos out, with a trained generator;
`sketch2face serve`: the same as a web page and an HTTP API.

Exit status of predict: 0 when at least one sketch became a photo (failures are listed in the
summary), 1 when none could be processed or an output could not be written. Of serve: 0 after a
clean shutdown (Ctrl-C, SIGTERM). Of both: 2 for a usage error or a model that cannot be loaded.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

from tqdm import tqdm

from sketch2face import __version__
from sketch2face.app.settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PORT,
    DEFAULT_QUEUE_SIZE,
    ServeSettings,
)
from sketch2face.config import HINT_NAMES, NoFacePolicy
from sketch2face.data.images import DEFAULT_MAX_PIXELS
from sketch2face.data.walk import printable
from sketch2face.inference import (
    ALIGN_MODES,
    DEVICE_CHOICES,
    AlignMode,
    DetectorUnavailable,
    Failure,
    GeneratorFileError,
    HintsError,
    PredictReport,
    SketchAligner,
    SketchHints,
    SketchInput,
    check_hints_for_model,
    collect_sketches,
    detector_available,
    face_detector,
    load_sketch_to_photo,
    parse_hint,
    predict_sketches,
    read_hints_file,
)
from sketch2face.io import OutputError
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.training.device import resolve_device

DEFAULT_MODEL = Path("models/generator.pt")
EXIT_OK, EXIT_NOTHING_PROCESSED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or the model: reported in one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sketch2face", description="Turn face sketches into face photos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="generate photos from sketch files or folders of sketches",
        description="Aligns each sketch like the training data, runs the generator and writes <OUT>/<name>.png.",
    )
    predict.add_argument(
        "inputs", nargs="+", type=Path, metavar="SKETCH_OR_DIR", help="image files or folders (walked recursively)"
    )
    predict.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="folder for the photos")
    _add_model_options(predict)
    predict.add_argument(
        "--side-by-side", action="store_true", help="also write <name>_side_by_side.png (sketch | photo)"
    )
    predict.add_argument("--batch-size", type=_positive_int, default=16, help="sketches per forward pass (default 16)")
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
    colours = "#rrggbb, monk-01..monk-10 (Monk Skin Tone scale), a hair colour name or auto (docs/hints.md)"
    predict.add_argument("--skin", metavar="COLOUR", help=f"skin colour of every sketch's face: {colours}")
    predict.add_argument("--hair", metavar="COLOUR", help=f"hair colour of every sketch's face: {colours}")
    predict.add_argument(
        "--hints",
        type=Path,
        metavar="CSV",
        help="per-sketch colours: a CSV with columns file (as given, or relative to a folder given) and skin "
        "and/or hair; its colours replace --skin/--hair for the files it names",
    )

    serve = commands.add_parser(
        "serve",
        help="a web page and an HTTP API: upload or draw a sketch, check its eyes, get the photo",
        description="Serves the page at / and the API at /api (documented at /docs) until Ctrl-C or SIGTERM. "
        "Sketches are aligned by detected eyes when the detector is installed (else centre-cropped), "
        "or on eyes placed by the user.",
    )
    _add_model_options(serve)
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0: every network)",
    )
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free port")
    serve.add_argument(
        "--max-upload-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_UPLOAD_BYTES,
        metavar="N",
        help=f"largest upload accepted (default {DEFAULT_MAX_UPLOAD_BYTES})",
    )
    serve.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"largest image accepted, width x height, checked before decoding (default {DEFAULT_MAX_PIXELS})",
    )
    serve.add_argument(
        "--queue-size",
        type=_non_negative_int,
        default=DEFAULT_QUEUE_SIZE,
        metavar="N",
        help=f"requests that may wait for the generator; more get 503 (default {DEFAULT_QUEUE_SIZE})",
    )
    return parser


def _add_model_options(command: argparse.ArgumentParser) -> None:
    """Which generator, and where it runs: the same for predict and serve."""
    source = command.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"generator file (default {DEFAULT_MODEL})")
    source.add_argument("--model-uri", help="an MLflow model instead, e.g. models:/sketch2face@champion")
    command.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto: cuda, then mps, then cpu")


def _int_within(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            within = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"must be {within}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse says "invalid integer value: 'x'"
    return parse


_positive_int, _non_negative_int, _port = _int_within(1), _int_within(0), _int_within(0, 65535)


def _load_model(args: argparse.Namespace) -> SketchToPhoto:
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.model_uri:
        from sketch2face.tracking import load_generator_model

        try:
            return load_generator_model(args.model_uri, device)
        except Exception as exc:
            raise UsageError(f"cannot load the MLflow model {args.model_uri}: {exc}") from None
    if not args.model.is_file():
        raise UsageError(
            f"model file not found: {args.model} (train one with `dvc repro`, or pass --model or --model-uri)"
        )
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


def _hints(
    args: argparse.Namespace, model: SketchToPhoto, inputs: list[SketchInput]
) -> Callable[[SketchInput], SketchHints]:
    """Each input's hints: its row of --hints, over --skin/--hair; a usage error for a bad colour or file row."""
    try:
        common = {name: parse_hint(text, f"--{name}") for name in HINT_NAMES if (text := getattr(args, name))}
        check_hints_for_model(model, [name for name, lab in common.items() if lab is not None], "the command line")
        per_file = read_hints_file(args.hints, inputs) if args.hints else {}
        given = {name for colours in per_file.values() for name, lab in colours.items() if lab is not None}
        check_hints_for_model(model, given, str(args.hints))
    except HintsError as exc:
        raise UsageError(str(exc)) from None
    return lambda item: {**common, **per_file.get(str(item.path), {})}


def predict(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"{args.output} is a file; -o takes the folder the photos go to")
    model = _load_model(args)
    align = _aligner(args, model)
    inputs, failures = collect_sketches(args.inputs, args.output)
    hints = _hints(args, model, inputs)
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
        hints=hints,
    )
    report.failures[:0] = failures
    print(summarise(report, args.output))
    return EXIT_OK if report.written else EXIT_NOTHING_PROCESSED


def _report_failure(failure: Failure) -> None:
    tqdm.write(printable(f"skipped {failure.path}: {failure.reason}"), file=sys.stderr)


def serve(args: argparse.Namespace) -> int:
    from sketch2face.app.model_info import describe_generator_file, describe_logged_model
    from sketch2face.app.running import listen, run_until_stopped, url_of
    from sketch2face.app.server import create_app

    settings = ServeSettings(args.max_upload_bytes, args.max_pixels, args.queue_size)
    model = _load_model(args)
    device = next(model.parameters()).device
    if args.model_uri:
        info = describe_logged_model(args.model_uri, model, device, _note)
    else:
        info = describe_generator_file(args.model, model, device, _note)
    detect = detector_available()
    if not detect:
        _note("face detection is not installed: eyes start where a centre crop puts them")
    aligner = SketchAligner.for_model(
        model, "detect" if detect else "center", locate_eyes=face_detector() if detect else None, no_face="center_crop"
    )
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    if not _is_loopback(sock.getsockname()[0]):
        _note(f"listening on {args.host}: anyone who can reach this machine can use the model")
    print(
        f"sketch2face serve: {url_of(sock)} (model {info.name}, {info.image_size} px, device {device}); Ctrl-C to stop",
        flush=True,
    )
    stopped_by = run_until_stopped(create_app(model, info, aligner, settings), sock)
    print(f"sketch2face serve: stopped{f' ({stopped_by})' if stopped_by else ''}", flush=True)
    return EXIT_OK


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback  # an IPv6 address may carry %interface
    except ValueError:
        return False


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr, flush=True)


COMMANDS = {"predict": predict, "serve": serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"sketch2face {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OutputError as exc:  # disk full, permission denied: photos written so far stay
        print(f"sketch2face {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED


if __name__ == "__main__":
    sys.exit(main())
