"""How appearance hints enter a generator: a per-sample vector, as input planes or a FiLM modulation.

A hint is a CIELAB colour (skin, hair) or absent. Each becomes four numbers: L/100, a/128, b/128
and a presence flag (1 given, 0 absent, its values then 0), so one generator learns to use a
hint when it is there and to guess as before when it is not (training leaves hints out at random).

- `channels`: the vector as constant extra input planes of the first convolution, so every
  location sees it from the first layer on.
- `film`: a small MLP maps the vector to a per-channel scale and shift of the bottleneck features
  (Perez et al. 2018); its last layer starts at zero, so an untrained FiLM changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from sketch2face.config import HINT_NAMES

FEATURES_PER_HINT = 4  # L, a, b (scaled to about -1..1) and the presence flag
LAB_SCALE = (100.0, 128.0, 128.0)
FILM_HIDDEN = 64


def hint_channels(hints: tuple[str, ...]) -> int:
    return FEATURES_PER_HINT * len(hints)


def encode_hints(hints: torch.Tensor | None, count: int, batch: int, device: torch.device) -> torch.Tensor:
    """(N, H, 3) CIELAB, NaN rows absent (None: all absent) -> (N, 4 H) float32 features."""
    if hints is None:
        return torch.zeros(batch, FEATURES_PER_HINT * count, device=device)
    if hints.shape != (batch, count, 3):
        raise ValueError(f"hints must have shape ({batch}, {count}, 3), got {tuple(hints.shape)}")
    hints = hints.to(device=device, dtype=torch.float32)
    present = ~hints.isnan().any(dim=-1, keepdim=True)
    scaled = torch.where(present, hints / hints.new_tensor(LAB_SCALE), 0.0)
    return torch.cat([scaled, present.float()], dim=-1).flatten(1)


def select_hints(appearance: torch.Tensor, hints: tuple[str, ...]) -> torch.Tensor:
    """A model's hints, in its order, from every measured colour (N, len(HINT_NAMES), 3)."""
    return appearance[:, [HINT_NAMES.index(name) for name in hints]]


def as_planes(features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N, F) -> (N, F, H, W) constant planes the size of `like`, in its dtype."""
    return features.to(like.dtype)[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class HintFilm(nn.Module):
    """Per-channel scale and shift of features from the hint vector: x (1 + gamma) + beta."""

    def __init__(self, hint_features: int, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hint_features, FILM_HIDDEN), nn.ReLU(), nn.Linear(FILM_HIDDEN, 2 * channels))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor, hint_vector: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.mlp(hint_vector).to(features.dtype)[:, :, None, None].chunk(2, dim=1)
        return features * (1 + gamma) + beta
