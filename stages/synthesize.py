"""DVC stage `synthesize`: render the embedded demo dataset (no download)."""

import argparse
from pathlib import Path

from sketch2face.config import load_params
from sketch2face.data.sources.demo import write_demo_dataset
from sketch2face.stage import reported_errors

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("out_dir", type=Path)
args = parser.parse_args()

with reported_errors("synthesize"):
    count = write_demo_dataset(load_params().synthesize, args.out_dir)
    print(f"synthesize: wrote {count} demo faces to {args.out_dir}")
