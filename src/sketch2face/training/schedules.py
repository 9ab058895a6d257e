"""Learning-rate policies: constant for `epochs_constant` epochs, then a decay over `epochs_decay`.

Each policy is a multiplicative factor of the epoch for `LambdaLR`, so the scheduler state is
just its epoch counter and resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sketch2face.config import TrainParams

STEP_GAMMA = 0.1  # the step policy's factor, as in pytorch-CycleGAN-and-pix2pix


def lr_factor(params: TrainParams) -> Callable[[int], float]:
    constant, decay = params.epochs_constant, params.epochs_decay

    def progress(epoch: int) -> float:
        """0 during the constant phase, then rising towards 1 at the end of the decay (never past it)."""
        return min(1.0, max(0, epoch + 1 - constant) / (decay + 1))

    def linear(epoch: int) -> float:
        return 1.0 - progress(epoch)

    def cosine(epoch: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * progress(epoch)))

    def step(epoch: int) -> float:
        """x 0.1 once every `lr_step_epochs` decay epochs have passed, like StepLR after the constant phase."""
        decay_epochs_done = max(0, epoch - constant)
        return STEP_GAMMA ** (decay_epochs_done // params.lr_step_epochs)

    return {"linear": linear, "cosine": cosine, "step": step}[params.lr_policy]
