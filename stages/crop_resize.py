"""DVC stage `crop_resize`: read the configured sources, align and resize every face pair."""

import argparse
import sys
from pathlib import Path

from sketch2face.config import load_params
from sketch2face.data.faces import build_faces
from sketch2face.data.sources import folders_outside
from sketch2face.stage import reported_errors

DATA_DEPS = (Path("data/demo"), Path("data/raw"))  # this stage's data dependencies in dvc.yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("summary", type=Path, help="counts per source, attribute and reject reason (JSON)")
    args = parser.parse_args()
    with reported_errors("crop_resize"):
        params = load_params().crop_resize
        for folder in folders_outside(params.sources, DATA_DEPS):
            print(
                f"crop_resize: warning: {folder} is outside {' and '.join(map(str, DATA_DEPS))}, which DVC "
                "tracks: `dvc repro` will not notice when it changes (move it under data/raw, `dvc add` it)",
                file=sys.stderr,
            )
        report = build_faces(params, args.out_dir, args.summary)
        print(f"crop_resize: {report.used} pairs used, {report.rejected} inputs rejected -> {args.out_dir}")


if __name__ == "__main__":  # the worker processes import this file
    main()
