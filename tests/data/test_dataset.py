import torch

from sketch2face.data.dataset import JitteredPairs, PairTensors, load_oriented_split
from sketch2face.models.generator import to_model_range, to_pixels
from tiny_pairs import write_pairs_dir


def _draws(data: JitteredPairs, seed: int) -> list[tuple[int, int, int, bool]]:
    """(item, top, left, flipped) of every sketch of a seeded epoch, found among all allowed windows."""
    margin, size = data.load_size - data.size, data.size
    windows = {}
    for item in range(len(data)):
        for top in range(margin + 1):
            for left in range(margin + 1):
                crop = data.both[item, : data.input_channels, top : top + size, left : left + size]
                windows[crop.numpy().tobytes()] = (item, top, left, False)
                windows[crop.flip(-1).numpy().tobytes()] = (item, top, left, True)
    generator = torch.Generator().manual_seed(seed)
    return [windows[to_pixels(s).numpy().tobytes()] for batch, _ in data.batches(4, generator) for s in batch]


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


def test_an_epoch_visits_every_pair_once_in_shuffled_order_with_varied_crops_and_flips():
    sketches = torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = JitteredPairs(PairTensors([str(i) for i in range(12)], sketches, sketches.repeat(1, 3, 1, 1)), 1.5, True)
    items, tops, lefts, flips = zip(*_draws(data, seed=3))  # windows of the 12 x 12 upscale: offsets 0..4
    assert sorted(items) == list(range(12)) and list(items) != sorted(items)
    assert set(tops) == set(lefts) == set(range(5))
    assert set(flips) == {False, True}


def test_batches_are_seeded():
    sketches = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = JitteredPairs(PairTensors(list("abcde"), sketches, sketches.repeat(1, 3, 1, 1)), 1.5, True)
    first = _draws(data, seed=7)
    assert len(first) == 5
    assert _draws(data, seed=7) == first
    assert _draws(data, seed=8) != first


def test_photo_to_sketch_swaps_input_and_target(tmp_path):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 3})
    forward = load_oriented_split(pairs_dir, "train", "sketch_to_photo", input_channels=1, output_channels=3)
    backward = load_oriented_split(pairs_dir, "train", "photo_to_sketch", input_channels=3, output_channels=1)
    assert backward.sketches.shape[1] == 3 and backward.photos.shape[1] == 1
    assert torch.equal(backward.sketches, forward.photos) and torch.equal(backward.photos, forward.sketches)
    assert load_oriented_split(pairs_dir, "missing", "sketch_to_photo", 1, 3) is None
