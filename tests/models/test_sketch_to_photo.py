import copy

import pytest
import torch
from torch import nn

from sketch2face.models.generator import GeneratorConfig, UnetGenerator, to_model_range, to_pixels
from sketch2face.models.sketch_to_photo import SketchToPhoto, trained_inference


@pytest.fixture
def generator():
    """A U-Net with dropout levels whose batch norms hold running statistics of their own."""
    torch.manual_seed(0)
    network = UnetGenerator(GeneratorConfig(image_size=64, ngf=4))
    network.train()(torch.randn(4, 1, 64, 64))
    return network.eval()


@pytest.fixture
def sketches():
    return torch.randint(0, 256, (3, 1, 64, 64), dtype=torch.uint8)


def _state(network: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in network.state_dict().items()}


def _same_state(network: nn.Module, stored: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(stored[key], value) for key, value in network.state_dict().items())


def test_the_test_batch_protocol_uses_each_sketchs_own_statistics_and_leaves_the_running_ones_alone(
    generator, sketches
):
    stored = _state(generator)
    model = SketchToPhoto(generator, {"inference": "test_batch"})

    torch.manual_seed(1)
    together = model(sketches)
    torch.manual_seed(1)
    alone = torch.cat([model(sketches[index : index + 1]) for index in range(3)])

    assert torch.equal(together, alone), "a photo does not depend on the sketches beside it"
    assert not torch.equal(together, SketchToPhoto(generator, {}).forward(sketches)), "not the running statistics"
    assert _same_state(generator, stored)
    assert (
        not generator.training
        and model.inference == "test_batch"
        and SketchToPhoto(generator, {}).inference == "running_stats"
    )


def test_image_stats_normalise_each_sketch_as_batch_one_training_did_without_dropout(generator, sketches):
    stored = _state(generator)
    model = SketchToPhoto(generator, {"inference": "image_stats"})

    photos = model(sketches)

    trained_alone = copy.deepcopy(generator).train()
    for layer in trained_alone.modules():
        if isinstance(layer, nn.Dropout):
            layer.eval()
    with torch.no_grad():
        expected = torch.cat([to_pixels(trained_alone(to_model_range(sketch[None]))) for sketch in sketches])
    assert torch.equal(photos, expected), "each sketch alone, batch norm on its own statistics, no dropout"
    assert torch.equal(photos, model(sketches)), "deterministic"
    assert not torch.equal(photos, SketchToPhoto(generator, {}).forward(sketches)), "not the running statistics"
    assert _same_state(generator, stored)


@pytest.mark.parametrize(
    ("norm", "batch_size", "inference"),
    [("batch", 1, "image_stats"), ("batch", 4, "running_stats"), ("instance", 1, "running_stats")],
)
def test_a_generator_is_run_by_default_with_the_statistics_its_training_normalised_with(norm, batch_size, inference):
    assert trained_inference(norm, batch_size) == inference
