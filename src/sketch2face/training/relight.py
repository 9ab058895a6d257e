"""Relit training photos: a face darkened at random, and its skin hint with it.

A training set covers a narrow band of skin tones (CUHK's 80 training faces: skin L 80 to 100;
its test faces go down to 70), and a generator given a hint darker than any it was trained on
renders the face too light. Darkening the face and neck of a hinted training photo by up to
`hint_relight_stops` (a gain on its linear light) and the skin hint by the same gain gives it
pairs across a wider band, each consistent: the photo is what a darker face under the same light
would look like, and the hint says so. The sketch does not change, as it would not.

The face is a soft region fixed by the alignment's eye positions (a half ellipse over the face,
continued down to the bottom edge for the neck), which holds the whole skin region the hint is
measured on and none of the hair band, so the hair hint stays as measured. Samples without a
skin hint keep their photo: nothing would tell the generator of the change.
"""

from __future__ import annotations

import torch

from sketch2face.colour import exposed_lab, linear_to_srgb, srgb_to_linear
from sketch2face.config import AlignmentParams
from sketch2face.data.align import canonical_eyes

# In eye distances d: the half ellipse's centre below the eye line, and its semi-axes across and up.
FACE_CENTRE_BELOW_EYES, FACE_HALF_WIDTH, FACE_HEIGHT_ABOVE_CENTRE = 0.45, 1.0, 1.15
SOFT_EDGE = 0.2  # of the radius: full weight inside 0.8, none from 1.0 out


def face_weights(geometry: AlignmentParams, size: int) -> torch.Tensor:
    """(S, S) weight in 0..1 of each pixel's share in a relit face, for eyes where `geometry` puts them."""
    eyes = canonical_eyes(geometry, size)
    distance = eyes.right[0] - eyes.left[0]
    centre_x, centre_y = (eyes.left[0] + eyes.right[0]) / 2, eyes.left[1] + FACE_CENTRE_BELOW_EYES * distance
    pixel = torch.arange(size, dtype=torch.float32) + 0.5
    across = (pixel[None, :] - centre_x) / (FACE_HALF_WIDTH * distance)
    up = (centre_y - pixel[:, None]).clamp(min=0) / (FACE_HEIGHT_ABOVE_CENTRE * distance)
    radius = torch.sqrt(across**2 + up**2)
    return ((1 - radius) / SOFT_EDGE).clamp(0, 1)


class FaceRelighting:
    """Draws a gain per hinted sample and applies it to the photo's face and to its skin hint."""

    def __init__(self, max_stops: float, skin_index: int, geometry: AlignmentParams, size: int) -> None:
        self.max_stops, self.skin_index = max_stops, skin_index
        self.weights = face_weights(geometry, size)

    def gains(self, hints: torch.Tensor) -> torch.Tensor:
        """(N,) gains in [2^-max_stops, 1], 1 where the skin hint is left out; from torch's global generator.

        Drawn for every sample on every step, so the draws a resumed run makes do not depend on
        which hints were left out before.
        """
        stops = torch.rand(len(hints)) * self.max_stops
        given = ~hints[:, self.skin_index].isnan().any(dim=-1)
        return torch.where(given, 2.0**-stops, 1.0)

    def hints(self, hints: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """The hints (N, H, 3) with each skin colour as the relit photo shows it."""
        relit = hints.clone()
        skin = hints[:, self.skin_index].double().numpy()
        relit[:, self.skin_index] = torch.from_numpy(exposed_lab(skin, gains.double().numpy())).to(hints.dtype)
        return relit

    def photos(self, photos: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """Photos (N, C, S, S) in [-1, 1] with each face's linear light scaled by its gain."""
        weights = self.weights.to(photos.device)
        gains = gains.to(photos.device, torch.float32)[:, None, None, None]
        linear = srgb_to_linear((photos.float() + 1) / 2)
        relit = linear_to_srgb(linear * (1 + weights * (gains - 1)))
        return (relit * 2 - 1).to(photos.dtype)
