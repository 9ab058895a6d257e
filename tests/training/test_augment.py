import pytest
import torch

from sketch2face.training.augment import CUTOUT_RATIO, augment, draw

ALL = ("translation", "cutout", "colour")


def _pair(batch: int = 4, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A photo whose first channel is the sketch: any transform applied alike keeps them equal."""
    sketch = torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return sketch, sketch.repeat(1, 3, 1, 1)


def test_without_augmentations_nothing_changes_and_nothing_is_drawn():
    sketch, photo = _pair()
    state = torch.get_rng_state()
    parameters = draw((), len(sketch), 16, sketch.device)
    assert torch.equal(torch.get_rng_state(), state), "the paper's setting draws no random numbers"
    assert augment(sketch, photo, parameters) == (sketch, photo)


@pytest.mark.parametrize("augmentations", [("translation",), ("cutout",), ("colour",), ALL])
def test_both_halves_of_a_pair_get_the_same_transform(augmentations):
    torch.manual_seed(0)
    sketch, photo = _pair()
    moved_sketch, moved_photo = augment(sketch, photo, draw(augmentations, len(sketch), 16, sketch.device))
    assert not torch.equal(moved_sketch, sketch)
    for channel in range(3):
        torch.testing.assert_close(moved_photo[:, channel : channel + 1], moved_sketch)


def test_translation_moves_content_and_fills_with_mid_grey():
    sketch, photo = _pair(batch=1)
    parameters = draw(("translation",), 1, 16, sketch.device)
    parameters = type(parameters)(shift=torch.tensor([[2, -1]]))
    moved, _ = augment(sketch, photo, parameters)
    torch.testing.assert_close(moved[0, 0, 2:, :15], sketch[0, 0, :14, 1:])
    assert (moved[0, 0, :2] == 0).all() and (moved[0, 0, :, 15] == 0).all()


def test_cutout_blanks_the_same_square_in_sketch_and_photo():
    torch.manual_seed(3)
    sketch, photo = _pair(batch=2)
    parameters = draw(("cutout",), 2, 16, sketch.device)
    cut_sketch, cut_photo = augment(sketch, photo, parameters)
    side = int(16 * CUTOUT_RATIO + 0.5)
    for index, (top, left) in enumerate(parameters.hole.tolist()):
        assert (cut_sketch[index, :, top : top + side, left : left + side] == 0).all()
        assert (cut_photo[index, :, top : top + side, left : left + side] == 0).all()
    assert ((cut_sketch == 0).sum(dim=(1, 2, 3)) >= side * side).all()


def test_gradients_reach_the_generated_photo_through_every_augmentation():
    torch.manual_seed(0)
    sketch, photo = _pair()
    photo = photo.clone().requires_grad_()
    _, augmented = augment(sketch, photo, draw(ALL, len(sketch), 16, sketch.device))
    augmented.sum().backward()
    assert photo.grad is not None and photo.grad.abs().sum() > 0
