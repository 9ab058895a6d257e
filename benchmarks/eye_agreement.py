"""Do the eyes of each aligned photo and its sketch coincide? Mean disagreement in pixels.

    python benchmarks/eye_agreement.py data/faces

Independent check on crop_resize's output: the OpenCV eye detector is run again on every
aligned photo and sketch (S >= 128 recommended; Haar cascades need some pixels), and for each
pair where both eyes are found in both images (no face-box fallback), the distance between the
photo's and the sketch's left eyes and right eyes is averaged. Also printed: the distance of
the detected eyes from the canonical positions. Detector noise (a few pixels at S=256) is part
of the figure, so it is an upper bound on the alignment error between photo and sketch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sketch2face.config import load_params
from sketch2face.data.align import canonical_eyes
from sketch2face.data.detect import detect_both_eyes
from sketch2face.data.faces import MANIFEST_FILE
from sketch2face.data.images import read_image
from sketch2face.data.records import EyeCentres


def distance(first: EyeCentres, second: EyeCentres) -> float:
    return float(
        np.mean([np.hypot(*np.subtract(a, b)) for a, b in ((first.left, second.left), (first.right, second.right))])
    )


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("faces_dir", type=Path)
parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="for the canonical eye geometry")
args = parser.parse_args()

manifest = pd.read_csv(args.faces_dir / MANIFEST_FILE, dtype=str, keep_default_na=False)
size = read_image(args.faces_dir / manifest["photo"].iloc[0], "gray").shape[0]
target = canonical_eyes(load_params(args.params).crop_resize.alignment, size)
rows = []
for _, row in manifest.iterrows():
    photo = detect_both_eyes(read_image(args.faces_dir / row["photo"], "rgb"))
    sketch = detect_both_eyes(read_image(args.faces_dir / row["sketch"], "gray"))
    if photo and sketch:
        rows.append(
            {
                "source": row["source"],
                "photo_vs_sketch": distance(photo, sketch),
                "photo_vs_canonical": distance(photo, target),
                "sketch_vs_canonical": distance(sketch, target),
            }
        )
table = pd.DataFrame(rows)
print(
    f"S={size}, eye distance {target.right[0] - target.left[0]:.1f} px; pairs measured: {len(table)} of {len(manifest)}"
)
if table.empty:
    raise SystemExit(
        f"no pair with both eyes detectable in photo and sketch at S={size}: nothing to compare (try S >= 128)"
    )
print(table.groupby("source").agg(["mean", "median"]).round(2).to_string())
print(f"mean photo-vs-sketch eye disagreement: {table['photo_vs_sketch'].mean():.2f} px")
