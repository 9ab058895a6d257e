"""How fast `sketch2face predict` turns sketch files into photo files, end to end.

Writes demo sketches (uncropped, like scans) to a temporary folder and runs the CLI's library
path on them: read, centre-crop, batch, generate, write. The generator is untrained (speed does
not depend on the weights) unless --model points at a real one.

    python benchmarks/predict_speed.py                      # 64 px, ngf 32, 64 sketches
    python benchmarks/predict_speed.py --size 256 --ngf 64 --count 32 --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sketch2face.data.synthetic import generate_demo_faces
from sketch2face.inference import SketchAligner, collect_sketches, load_sketch_to_photo, predict_sketches
from sketch2face.io import write_image
from sketch2face.models.generator import GeneratorConfig, UnetGenerator
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.training.device import resolve_device

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--count", type=int, default=64)
parser.add_argument("--size", type=int, default=64, help="generator resolution S")
parser.add_argument("--ngf", type=int, default=32)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--device", default="auto")
parser.add_argument("--model", type=Path, help="a real generator file instead of an untrained one")
args = parser.parse_args()

device = resolve_device(args.device)
if args.model:
    model = load_sketch_to_photo(args.model, device)
else:
    model = SketchToPhoto(UnetGenerator(GeneratorConfig(args.size, input_channels=1, ngf=args.ngf)), {}).to(device)

with tempfile.TemporaryDirectory() as scratch:
    sketches = Path(scratch) / "sketches"
    for index, face in enumerate(
        generate_demo_faces(args.count, size=max(128, model.config.image_size), seed=0, views_per_subject=1)
    ):
        write_image(sketches / f"{index:04d}.png", np.pad(face.sketch, ((40, 20), (0, 0)), constant_values=250))
    inputs, _ = collect_sketches([sketches], Path(scratch) / "out")
    align = SketchAligner.for_model(model, "center")
    predict_sketches(inputs[: args.batch_size], model, align, Path(scratch) / "warmup", batch_size=args.batch_size)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    report = predict_sketches(
        inputs, model, align, Path(scratch) / "out", batch_size=args.batch_size, with_side_by_side=True
    )
    seconds = time.perf_counter() - started

print(
    f"predict: {len(report.written)} sketches at {model.config.image_size} px (ngf {model.config.ngf}) on {device}, "
    f"batch {args.batch_size}, torch threads {torch.get_num_threads()}: {seconds:.2f} s, "
    f"{len(report.written) / seconds:.1f} sketches/s (read, align, generate, write photo + side-by-side)"
)
