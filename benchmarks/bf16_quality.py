"""Does bf16 autocast cost quality? Trains fp32 and bf16 for the same steps on demo data, prints test PSNR.

    python benchmarks/bf16_quality.py                     # 240 demo faces, 64 px, 10 epochs, seeds 0 1 2
    python benchmarks/bf16_quality.py --epochs 30 --count 360 --seeds 0

Each seed trains both precisions from the same initialisation and data order; the verdict uses the
mean gap over seeds, and the spread of fp32 across seeds shows how much of a gap is plain noise.

The demo dataset is generated, aligned and split in a temporary folder with the pipeline's own
library functions (synthesize, crop_resize, assemble_pairs). Acceptance: bf16's mean test PSNR is at
most 0.3 dB below fp32's (a bf16 run that scores higher passes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sketch2face.artifacts import TrainOutputs
from sketch2face.config import (
    AlignmentParams,
    AssemblePairsParams,
    CropResizeParams,
    Params,
    SourceParams,
    SynthesizeParams,
    TrainParams,
)
from sketch2face.data.dataset import load_split
from sketch2face.data.faces import build_faces
from sketch2face.data.pairs import assemble_pairs
from sketch2face.data.sources.demo import write_demo_dataset
from sketch2face.evaluation.evaluator import generate
from sketch2face.evaluation.metrics import psnr
from sketch2face.inference import DEVICE_CHOICES
from sketch2face.models.generator import load_generator_file
from sketch2face.models.sketch_to_photo import SketchToPhoto
from sketch2face.training.run import offline_tracker, train

MAX_PSNR_GAP_DB = 0.3


def demo_pairs(root: Path, count: int, crop_resize: CropResizeParams) -> Path:
    write_demo_dataset(SynthesizeParams(count=count), root / "demo")
    build_faces(crop_resize, root / "faces")
    assemble_pairs(root / "faces", root / "pairs", AssemblePairsParams(), AlignmentParams())
    return root / "pairs"


def test_psnr(generator_path: Path, pairs_dir: Path) -> float:
    generator = SketchToPhoto(*load_generator_file(generator_path))
    test = load_split(pairs_dir, "test", generator.config.input_channels, generator.config.output_channels)
    fakes = generate(generator, test.sketches, 16).permute(0, 2, 3, 1).numpy()
    reals = test.photos.permute(0, 2, 3, 1).numpy()
    return float(np.mean(psnr(reals, fakes)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=240, help="demo faces")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10, help="half constant, half decay")
    parser.add_argument("--ngf", type=int, default=32, help="ngf = ndf")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        crop_resize = CropResizeParams(
            image_size=args.size, sources=(SourceParams(name="demo", kind="demo", root=root / "demo"),)
        )
        pairs_dir = demo_pairs(root, args.count, crop_resize)
        scores: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for seed in args.seeds:
            for precision in ("fp32", "bf16"):
                train_params = TrainParams(
                    ngf=args.ngf,
                    ndf=args.ngf,
                    batch_size=args.batch_size,
                    device=args.device,
                    precision=precision,
                    epochs_constant=args.epochs - args.epochs // 2,
                    epochs_decay=args.epochs // 2,
                    seed=seed,
                )
                params = Params(crop_resize=crop_resize, train=train_params)
                outputs = TrainOutputs.in_dirs(
                    root / f"{precision}-{seed}" / "models", root / f"{precision}-{seed}" / "metrics"
                )
                started = time.perf_counter()
                summary = train(params, pairs_dir, outputs, offline_tracker())
                scores[precision].append(test_psnr(outputs.generator, pairs_dir))
                print(
                    f"seed {seed} {precision}: test PSNR {scores[precision][-1]:.2f} dB, last val PSNR "
                    f"{summary.get('final_val_psnr', float('nan')):.2f}, {summary['images_per_second']:.2f} images/s, "
                    f"{time.perf_counter() - started:.0f} s",
                    flush=True,
                )
    gaps = [fp32 - bf16 for fp32, bf16 in zip(scores["fp32"], scores["bf16"], strict=True)]
    gap = float(np.mean(gaps))
    verdict = "passes" if gap <= MAX_PSNR_GAP_DB else "FAILS"  # only a loss counts against bf16
    print(
        f"fp32 - bf16 per seed: {' '.join(f'{value:+.2f}' for value in gaps)} dB; "
        f"fp32 across seeds: {min(scores['fp32']):.2f}..{max(scores['fp32']):.2f} dB"
    )
    print(
        f"mean fp32 - bf16 = {gap:+.2f} dB (negative: bf16 ahead): {verdict} "
        f"'bf16 at most {MAX_PSNR_GAP_DB} dB below fp32'"
    )


if __name__ == "__main__":
    main()
