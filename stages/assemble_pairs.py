"""DVC stage `assemble_pairs`: subject-disjoint split, pix2pix AB images and each photo's appearance hints."""

import argparse
from pathlib import Path

from sketch2face.config import load_params
from sketch2face.data.pairs import assemble_pairs
from sketch2face.stage import reported_errors

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("faces_dir", type=Path)
parser.add_argument("out_dir", type=Path)
parser.add_argument("summary", type=Path, help="counts per split, source and attribute (JSON)")
args = parser.parse_args()

with reported_errors("assemble_pairs"):
    params = load_params()
    geometry = params.crop_resize.alignment  # where crop_resize put the eyes: the hints are measured from there
    pairs = assemble_pairs(args.faces_dir, args.out_dir, params.assemble_pairs, geometry, args.summary)
    print("assemble_pairs:", pairs["split"].value_counts().to_dict())
