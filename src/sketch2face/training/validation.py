"""Per-epoch validation on the val split: L1 (the training loss's scale), PSNR and SSIM (the evaluation's).

A generator with appearance hints is given the colours measured on the val photos, as the
evaluation's hinted scores are.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from sketch2face.config import InferenceMode, Precision
from sketch2face.data.dataset import PairTensors
from sketch2face.evaluation.metrics import DATA_RANGE, MIN_MSE, ssim
from sketch2face.models.generator import RUNNING_STATS, to_model_range, to_pixels
from sketch2face.models.hints import select_hints
from sketch2face.models.sketch_to_photo import batch_statistics
from sketch2face.training.device import autocast

VAL_METRICS = ("val_l1", "val_psnr", "val_ssim")


@torch.no_grad()
def validate(
    generator: nn.Module,
    pairs: PairTensors,
    batch_size: int,
    device: torch.device,
    precision: Precision,
    inference: InferenceMode = RUNNING_STATS,
) -> dict[str, float]:
    """Means over images, run as evaluate runs the generator by default: dropout off, with the running norm
    statistics, or (`image_stats`) each image alone on its own norm statistics."""
    was_training = generator.training
    generator.eval()
    hint_names = generator.config.hints
    hints = select_hints(pairs.appearance, hint_names) if hint_names else None
    l1_total = psnr_total = ssim_total = 0.0
    per_image = inference != RUNNING_STATS
    batch_size = 1 if per_image else batch_size
    with batch_statistics(generator, dropout=False) if per_image else contextlib.nullcontext():
        for start in range(0, len(pairs), batch_size):
            source = to_model_range(pairs.sketches[start : start + batch_size]).to(device)
            target = pairs.photos[start : start + batch_size].to(device)
            batch_hints = None if hints is None else hints[start : start + batch_size].to(device)
            with autocast(device, precision):
                fake = generator(source, batch_hints).float()
            l1_total += (fake - to_model_range(target)).abs().mean(dim=(1, 2, 3)).sum().item()
            mse = (to_pixels(fake).float() - target.float()).pow(2).mean(dim=(1, 2, 3)).clamp_min(MIN_MSE)
            psnr_total += (10.0 * torch.log10(DATA_RANGE**2 / mse)).sum().item()
            as_images = [pixels.permute(0, 2, 3, 1).cpu().numpy() for pixels in (target, to_pixels(fake))]
            ssim_total += ssim(*as_images).sum()
    generator.train(was_training)
    count = len(pairs)
    return {"val_l1": l1_total / count, "val_psnr": psnr_total / count, "val_ssim": float(ssim_total) / count}


def is_better(val_l1: float, best: float | None) -> bool:
    """A NaN (diverged) epoch is never the best, not even the first: it could never be beaten."""
    return not math.isnan(val_l1) and (best is None or val_l1 < best)
