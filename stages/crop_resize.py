"""DVC stage `crop_resize`: read the configured sources, align and resize every face pair."""

import argparse
from pathlib import Path

from sketch2face.config import load_params
from sketch2face.data.faces import build_faces
from sketch2face.stage import reported_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("summary", type=Path, help="counts per source, attribute and reject reason (JSON)")
    args = parser.parse_args()
    with reported_errors("crop_resize"):
        report = build_faces(load_params().crop_resize, args.out_dir, args.summary)
        print(f"crop_resize: {report.used} pairs used, {report.rejected} inputs rejected -> {args.out_dir}")


if __name__ == "__main__":  # the worker processes import this file
    main()
