import numpy as np
import pandas as pd
import torch
from tiny_pairs import write_pairs_dir

from sketch2face.data.dataset import JitteredPairs, PairTensors, load_oriented_split, load_split
from sketch2face.models.generator import to_model_range, to_pixels


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
    return [windows[to_pixels(s).numpy().tobytes()] for batch, _, _ in data.batches(4, generator) for s in batch]


def test_pixel_range_round_trip():
    pixels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_pixels(to_model_range(pixels)), pixels)


def test_jitter_and_flip_are_identical_for_sketch_and_photo_and_the_colours_travel_unchanged():
    sketches = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    photos = sketches.repeat(1, 3, 1, 1)
    # each pair's colours carry its index, so a batch shows whose colours came with which photo
    appearance = torch.arange(6, dtype=torch.float32)[:, None, None].expand(6, 2, 3) + torch.tensor([0.0, 0.5])[:, None]
    pairs = PairTensors([str(i) for i in range(6)], sketches, photos, appearance)
    data = JitteredPairs(pairs, jitter=1.25, flip=True)
    assert data.load_size == 20
    seen = []
    for sketch, photo, colours in data.batches(4, torch.Generator().manual_seed(0)):
        assert sketch.shape[1:] == (1, 16, 16) and photo.shape[1:] == (3, 16, 16) and colours.shape[1:] == (2, 3)
        assert torch.equal(photo, sketch.expand_as(photo))
        for window, own in zip(to_pixels(sketch), colours[:, 0, 0].long().tolist(), strict=True):  # its own sketch's
            assert any(torch.equal(window, candidate) for candidate in _windows(data, own))
        seen += colours[:, 0, 0].long().tolist()
    assert sorted(seen) == list(range(6))


def _windows(data: JitteredPairs, item: int) -> list[torch.Tensor]:
    margin, size = data.load_size - data.size, data.size
    offsets = [(top, left) for top in range(margin + 1) for left in range(margin + 1)]
    crops = [data.both[item, :1, top : top + size, left : left + size] for top, left in offsets]
    return crops + [crop.flip(-1) for crop in crops]


def test_an_epoch_visits_every_pair_once_in_shuffled_order_with_varied_crops_and_flips():
    sketches = torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = JitteredPairs(PairTensors([str(i) for i in range(12)], sketches, sketches.repeat(1, 3, 1, 1)), 1.5, True)
    items, tops, lefts, flips = zip(*_draws(data, seed=3), strict=True)  # windows of the 12 x 12 upscale: offsets 0..4
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


def test_measured_colours_come_from_pairs_csv_and_are_nan_where_it_has_none(tmp_path):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 3})
    table = pd.read_csv(pairs_dir / "pairs.csv")
    loaded = load_split(pairs_dir, "train")
    assert loaded.appearance.shape == (3, 2, 3)
    np.testing.assert_allclose(loaded.appearance[:, 0].numpy(), table[["skin_L", "skin_a", "skin_b"]].to_numpy())
    np.testing.assert_allclose(loaded.appearance[:, 1].numpy(), table[["hair_L", "hair_a", "hair_b"]].to_numpy())
    table.loc[1, "hair_a"] = np.nan
    table.drop(columns=["skin_L"]).to_csv(pairs_dir / "pairs.csv", index=False)  # a table from before the hints
    older = load_split(pairs_dir, "train").appearance
    assert older[:, 0, 0].isnan().all() and older[1, 1, 1].isnan() and not older[0, 1].isnan().any()
