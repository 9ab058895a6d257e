import torch

from sketch2face.data.dataset import JitteredPairs, PairTensors
from sketch2face.models.generator import to_model_range, to_pixels


def test_pixel_range_round_trip():
    pixels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_pixels(to_model_range(pixels)), pixels)


def test_jitter_and_flip_are_identical_for_sketch_and_photo():
    sketches = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    photos = sketches.repeat(1, 3, 1, 1)
    data = JitteredPairs(PairTensors([str(i) for i in range(6)], sketches, photos), jitter=1.25, flip=True)
    assert data.load_size == 20
    seen = 0
    for sketch, photo in data.batches(4, torch.Generator().manual_seed(0)):
        assert sketch.shape[1:] == (1, 16, 16) and photo.shape[1:] == (3, 16, 16)
        assert torch.equal(photo, sketch.expand_as(photo))
        seen += len(sketch)
    assert seen == 6


def test_batches_are_seeded():
    sketches = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    data = JitteredPairs(PairTensors(list("abcde"), sketches, sketches.repeat(1, 3, 1, 1)), 1.5, True)
    first = [s for s, _ in data.batches(2, torch.Generator().manual_seed(7))]
    second = [s for s, _ in data.batches(2, torch.Generator().manual_seed(7))]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
