import numpy as np
import pytest
import torch

from sketch2face.colour import lab_to_srgb
from sketch2face.config import AlignmentParams, TrainParams
from sketch2face.data.appearance import hair_region, measure_appearance, skin_region
from sketch2face.training.relight import FaceRelighting, face_weights
from sketch2face.training.step import Pix2PixTrainer

GEOMETRY = AlignmentParams()
SIZE = 64
SKIN, HAIR, BACKGROUND = (62.0, 14.0, 20.0), (22.0, 3.0, 8.0), (60.0, -5.0, -40.0)


def _face(size: int = SIZE) -> np.ndarray:
    """An aligned S x S photo: a background, a skin-coloured face region and a hair band, of known colours."""
    photo = np.empty((size, size, 3), np.uint8)
    photo[:] = lab_to_srgb(np.array(BACKGROUND)).round()
    weights = face_weights(GEOMETRY, size).numpy()
    photo[weights > 0] = lab_to_srgb(np.array(SKIN)).round()
    photo[hair_region(GEOMETRY, size)] = lab_to_srgb(np.array(HAIR)).round()
    return photo


def _as_batch(photo: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1


def _as_image(batch: torch.Tensor) -> np.ndarray:
    return ((batch[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def test_the_face_weights_cover_the_whole_skin_region_and_none_of_the_hair_band():
    for size in (32, 64, 256):
        weights = face_weights(GEOMETRY, size)
        assert weights.shape == (size, size) and weights.min() == 0 and weights.max() == 1
        assert (weights[skin_region(GEOMETRY, size)] == 1).all()
        assert (weights[hair_region(GEOMETRY, size)] == 0).all()
        assert (weights[-1, size // 2] == 1) and (weights[:, 0] == 0).all(), "the neck down to the edge, not the sides"


@pytest.mark.parametrize("gain", [1.0, 0.7, 0.5, 0.3])
def test_a_relit_photo_measures_as_the_relit_hint_says(gain):
    """What the trainer tells the generator is what measuring the relit photo would give."""
    photo = _face()
    measured = measure_appearance(photo, GEOMETRY)
    relighting = FaceRelighting(2.0, skin_index=0, geometry=GEOMETRY, size=SIZE)
    gains = torch.tensor([gain])
    relit = measure_appearance(_as_image(relighting.photos(_as_batch(photo), gains)), GEOMETRY)
    hints = relighting.hints(torch.tensor([[measured.skin, measured.hair]], dtype=torch.float32), gains)[0]
    assert np.abs(hints[0].numpy() - np.array(relit.skin)).max() < 1.0, "within a rounding of the uint8 photo"
    assert hints[1].tolist() == pytest.approx(measured.hair) and relit.hair == pytest.approx(measured.hair, abs=1e-9)
    if gain < 1:
        assert relit.skin[0] < measured.skin[0] - 5


def test_relighting_leaves_what_is_outside_the_face_and_unhinted_samples_as_they_are():
    photos = _as_batch(_face()).expand(3, -1, -1, -1)
    relighting = FaceRelighting(1.0, skin_index=0, geometry=GEOMETRY, size=SIZE)
    hints = torch.tensor([[SKIN, HAIR], [(float("nan"),) * 3, HAIR], [SKIN, (float("nan"),) * 3]])
    torch.manual_seed(0)
    gains = relighting.gains(hints)
    assert gains[1] == 1 and (gains[[0, 2]] >= 0.5).all() and (gains[[0, 2]] < 1).all()
    relit = relighting.photos(photos, gains)
    assert torch.allclose(relit[1], photos[1], atol=1e-5), "no skin hint: the photo as it is"
    outside = face_weights(GEOMETRY, SIZE) == 0
    assert torch.allclose(relit[:, :, outside], photos[:, :, outside], atol=1e-5)
    assert (relit[[0, 2]][:, :, ~outside] < photos[[0, 2]][:, :, ~outside]).all()
    relit_hints = relighting.hints(hints, gains)
    assert relit_hints[1, 0].isnan().all() and relit_hints[2, 1].isnan().all(), "absent hints stay absent"
    assert torch.equal(relit_hints[:, 1, :][:2], hints[:2, 1]), "the hair is not relit"


def test_the_trainer_holds_hinted_generations_to_relit_photos_and_the_hint_free_pass_to_the_real_ones():
    params = TrainParams(
        ngf=4, ndf=4, batch_size=2, seed=3, hint_dropout=0.0, hint_free_pass=True, hint_relight_stops=2
    )
    trainer = Pix2PixTrainer(params, image_size=SIZE, geometry=GEOMETRY)
    held_to = []
    trainer.objective.hint_free_loss = lambda bare, photo, share: held_to.append(photo) or bare.sum() * 0
    generated_with = []
    trainer.generator.register_forward_hook(lambda layer, inputs, output: generated_with.append(inputs[1].clone()))
    l1_targets = []
    generator_loss = trainer.objective.generator_loss
    trainer.objective.generator_loss = lambda judged, fake, target, features: (
        l1_targets.append(target) or generator_loss(judged, fake, target, features)
    )
    photos = _as_batch(_face()).expand(2, -1, -1, -1)
    appearance = torch.tensor([[SKIN, HAIR]] * 2)
    trainer.train_step(torch.zeros(2, 1, SIZE, SIZE), photos, appearance)
    assert torch.equal(held_to[0], photos), "the pass without hints is held to the photos as they are"
    assert (l1_targets[0].mean(dim=(1, 2, 3)) < photos.mean(dim=(1, 2, 3))).all(), "hinted: held to darker faces"
    told = generated_with[0]
    assert (told[:, 0, 0] < appearance[:, 0, 0]).all() and torch.equal(told[:, 1], appearance[:, 1]), (
        "told of the darker skin, and of the hair as measured"
    )
