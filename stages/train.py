"""DVC stage `train`: fit pix2pix on the train split, logging to MLflow.

Also the entry point for several processes: `torchrun --nproc_per_node=N stages/train.py ...`.
"""

import argparse
import sys
from pathlib import Path

from sketch2face.artifacts import TrainOutputs
from sketch2face.config import load_params
from sketch2face.stage import reported_errors
from sketch2face.training.loop import TrainingInterrupted
from sketch2face.training.run import run_training

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("pairs_dir", type=Path)
parser.add_argument("models_dir", type=Path)
parser.add_argument("metrics_dir", type=Path)
args = parser.parse_args()

with reported_errors("train"):
    try:
        summary = run_training(load_params(), args.pairs_dir, TrainOutputs.in_dirs(args.models_dir, args.metrics_dir))
    except TrainingInterrupted as stopped:
        sys.exit(f"train: interrupted, {stopped}; run the stage again to resume")
    print("train:", summary)
