"""An exponential moving average of the generator's weights, the generator that gets published.

GAN weights oscillate from step to step; their average over the last few hundred steps makes
smoother, steadier photos at no training cost (Yazici et al. 2019; Karras et al. 2018). The
batch-norm running statistics are averaged like the weights, so the averaged generator's
statistics follow the averaged weights rather than the last step's (as timm's ModelEmaV2 does);
integer buffers (batches seen) are copied.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

WARMUP_STEPS = 10  # decay ramps (1 + t) / (10 + t) up to ema_decay, so the random initial weights fade fast


class GeneratorAverage:
    """Keeps `model`, the averaged copy of a generator; `update` after every optimiser step."""

    def __init__(self, generator: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(generator).requires_grad_(False)
        self.decay = decay
        self.updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (WARMUP_STEPS + self.updates))

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        self.updates += 1
        keep = self.current_decay()
        for (_name, average), current in zip(
            self.model.state_dict().items(), generator.state_dict().values(), strict=True
        ):
            if average.is_floating_point():
                average.lerp_(current.detach(), 1.0 - keep)
            else:
                average.copy_(current)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = state["updates"]
