"""How long does evaluation take? Target: 1000 test images of 256 px, all metrics, within 60 s.

Synthesises the test set in memory (smooth random "photos", perturbed copies as generated
photos, grey "sketches"), then times `score_test_set`, the metric part of the evaluate stage:
PSNR, SSIM, grey SSIM, FSIM and the rank-1 identity for the model AND both baselines (mean
photo, sketch), i.e. every number of eval.json except LPIPS/FID, which need weights this
machine does not have. Wall time depends on how busy the machine is; CPU time (summed over
threads) divided by the cores is what an idle machine would need at best. The generator
forward pass (256 px, ngf 64) is timed separately on `--forward-images` images and
extrapolated, because on a CPU it alone exceeds the budget.

    python benchmarks/eval_speed.py                 # the target: 1000 images, 256 px
    python benchmarks/eval_speed.py --images 100    # a quick look
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
import torch

from sketch2face.config import EvaluateParams
from sketch2face.evaluation.evaluator import (
    MODEL,
    baseline_images,
    generate,
    identity_rates,
    image_quality,
    score_test_set,
)
from sketch2face.evaluation.identity import Recogniser
from sketch2face.models.cpu import use_cpu_kernels
from sketch2face.models.generator import GeneratorConfig, UnetGenerator
from sketch2face.models.sketch_to_photo import SketchToPhoto


def smooth_images(rng: np.random.Generator, count: int, size: int, channels: int) -> np.ndarray:
    """Random low-frequency images: content that FSIM and SSIM have to work on."""
    coarse = rng.uniform(0, 255, (count, 16, 16, channels)).astype(np.float32)
    images = [cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC) for image in coarse]
    return np.clip(np.stack(images).reshape(count, size, size, channels), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--train-photos", type=int, default=200, help="photos the recogniser is fitted on")
    parser.add_argument("--forward-images", type=int, default=16, help="images for the generator timing")
    parser.add_argument("--ngf", type=int, default=64)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    real = smooth_images(rng, args.images, args.size, 3)
    noise = rng.integers(-25, 26, real.shape, dtype=np.int16)
    generated = np.clip(real.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    sketches = 255 - real.mean(axis=3, keepdims=True).astype(np.uint8)
    subjects = [f"s{i // 2}" for i in range(args.images)]
    train = smooth_images(rng, args.train_photos, args.size, 3)
    params = EvaluateParams()
    print(
        f"torch threads {torch.get_num_threads()}, OpenCV threads {cv2.getNumThreads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, CPUs {os.cpu_count()}"
    )

    start = time.perf_counter()
    recogniser = Recogniser.fit(train, params.identity_feature_size)
    fit_seconds = time.perf_counter() - start
    candidates = {MODEL: generated, **baseline_images(sketches, train, 3)}

    start, cpu_start = time.perf_counter(), time.process_time()
    score_test_set(real, candidates, subjects, recogniser, params)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        f"metrics, {args.images} images of {args.size} px, model + 2 baselines: {total:.1f} s wall "
        f"({1000 * total / args.images:.1f} ms/image), {cpu:.1f} s CPU over all threads; "
        f"recogniser fit on {args.train_photos} photos: {fit_seconds:.1f} s"
    )

    subset = min(args.images, 100)
    start = time.perf_counter()
    workers = params.workers or os.cpu_count() or 1
    image_quality(real[:subset], {MODEL: generated[:subset]}, params.ssim_window, params.batch_size, workers)
    model_only = (time.perf_counter() - start) * args.images / subset
    start = time.perf_counter()
    identity_rates(recogniser, real, candidates, subjects)
    identity_seconds = time.perf_counter() - start
    print(
        f"  of which: identity (3 candidates) {identity_seconds:.1f} s; "
        f"image metrics for the model alone ~{model_only:.1f} s (timed on {subset}, scaled)"
    )

    generator = UnetGenerator(GeneratorConfig(image_size=args.size, input_channels=1, output_channels=3, ngf=args.ngf))
    generator = SketchToPhoto(use_cpu_kernels(generator), {})
    batch = torch.from_numpy(sketches[: args.forward_images]).permute(0, 3, 1, 2).contiguous()
    generate(generator, batch[:1], 1)
    start = time.perf_counter()
    generate(generator, batch, params.batch_size)
    forward = (time.perf_counter() - start) / len(batch)
    print(
        f"generator forward, {args.size} px, ngf {args.ngf}: {1000 * forward:.0f} ms/image on {len(batch)} images "
        f"-> ~{forward * args.images:.0f} s for {args.images} (extrapolated)"
    )


if __name__ == "__main__":
    main()
