"""DVC stage `evaluate`: generate the test photos, score them, draw the pictures."""

import argparse
from pathlib import Path

from sketch2face.artifacts import EvalOutputs, TrainOutputs
from sketch2face.config import load_params
from sketch2face.evaluation.evaluator import headline, run_evaluation
from sketch2face.stage import reported_errors

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("models_dir", type=Path)
parser.add_argument("pairs_dir", type=Path)
parser.add_argument("metrics_dir", type=Path)
parser.add_argument("results_dir", type=Path)
args = parser.parse_args()

with reported_errors("evaluate"):
    outputs = EvalOutputs.in_dirs(args.metrics_dir, args.results_dir)
    summary = run_evaluation(
        load_params(), TrainOutputs.in_dirs(args.models_dir, args.metrics_dir), args.pairs_dir, outputs
    )
    print(headline(summary, outputs))
