import pytest
import torch
from torch import nn

from sketch2face.training.ema import WARMUP_STEPS, GeneratorAverage


def _network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def test_each_update_moves_the_average_towards_the_weights_with_a_warmed_up_decay():
    network = _network()
    average = GeneratorAverage(network, decay=0.999)
    before = average.model[0].weight.clone()
    with torch.no_grad():
        network[0].weight.add_(1.0)
    average.update(network)
    keep = min(0.999, 2 / (WARMUP_STEPS + 1))
    torch.testing.assert_close(average.model[0].weight, keep * before + (1 - keep) * network[0].weight)
    assert average.current_decay() == pytest.approx(2 / (WARMUP_STEPS + 1)), "the decay of the update just made"
    for _ in range(10_000):
        average.updates += 1
    assert average.current_decay() == 0.999


def test_batch_norm_statistics_are_averaged_and_counts_copied():
    network = _network()
    average = GeneratorAverage(network, decay=0.5)
    network.train()(torch.randn(4, 1, 8, 8) + 3)  # moves the running mean
    average.update(network)
    keep = 2 / (WARMUP_STEPS + 1)  # the first update's warmed-up decay, below 0.5
    torch.testing.assert_close(average.model[1].running_mean, (1 - keep) * network[1].running_mean)
    assert average.model[1].num_batches_tracked.item() == network[1].num_batches_tracked.item() == 1
    assert not any(parameter.requires_grad for parameter in average.model.parameters())


def test_state_round_trip_resumes_the_same_average():
    network = _network()
    average = GeneratorAverage(network, decay=0.9)
    for _ in range(3):
        with torch.no_grad():
            network[0].weight.mul_(1.1)
        average.update(network)
    resumed = GeneratorAverage(_network(), decay=0.9)
    resumed.load_state_dict(average.state_dict())
    assert resumed.updates == 3
    assert all(
        torch.equal(a, b)
        for a, b in zip(resumed.model.state_dict().values(), average.model.state_dict().values(), strict=True)
    )
