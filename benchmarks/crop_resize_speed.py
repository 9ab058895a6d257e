"""Images per second of the crop_resize stage on a folder you point it at.

    python benchmarks/crop_resize_speed.py /path/to/cuhk_original --kind pairs --size 256
    python benchmarks/crop_resize_speed.py /path/to/cuhk_cropped --kind cufs --workers 1

Runs the real stage function (scan, decode, eye detection when needed, warp, PNG write) into a
temporary folder and prints the throughput; `--workers 0` uses every core. Each pair is two
images. Timings include the process pool start-up, as a stage run does.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sketch2face.config import CropResizeParams
from sketch2face.data.faces import build_faces
from sketch2face.stage import reported_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--kind", default="pairs", help="source adapter (pairs, cufs, aligned...)")
    parser.add_argument("--size", type=int, default=256, help="output side S")
    parser.add_argument("--workers", type=int, default=0, help="0 = one per core")
    parser.add_argument("--detect", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    params = CropResizeParams(
        image_size=args.size,
        sources=({"name": "bench", "kind": args.kind, "root": args.root},),
        alignment={"detect": args.detect},
        workers=args.workers,
        contact_sheet_pairs=0,
    )
    with tempfile.TemporaryDirectory() as out, reported_errors("crop_resize_speed"):  # a bad root: one line
        start = time.perf_counter()
        report = build_faces(params, Path(out), progress=False)
        seconds = time.perf_counter() - start
    images = 2 * report.summary["pairs_found"]
    print(f"root: {args.root} (kind {args.kind}, S={args.size}, detect={args.detect})")
    print(f"workers: {args.workers or os.cpu_count()} of {os.cpu_count()} cores")
    print(f"pairs used: {report.used}, rejects: {report.rejected}")
    print(f"seconds: {seconds:.2f}")
    print(f"images/s: {images / seconds:.1f}")


if __name__ == "__main__":  # the worker processes import this file
    main()
