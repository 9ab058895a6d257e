import dataclasses

import pytest
import torch
from torch import nn

from sketch2face.models.discriminator import ConditionalDiscriminator, DiscriminatorConfig
from sketch2face.models.generator import (
    GeneratorConfig,
    ResnetGenerator,
    UnetGenerator,
    build_generator,
    load_generator,
    save_generator,
)
from sketch2face.models.losses import GanLoss


@pytest.mark.parametrize(("size", "depth"), [(16, 4), (64, 6), (256, 8)])
def test_unet_depth_follows_the_image_size(size, depth):
    generator = UnetGenerator(GeneratorConfig(image_size=size, input_channels=1, ngf=4))
    assert len(generator.encoder) == depth
    out = generator(torch.randn(2, 1, size, size))
    assert out.shape == (2, 3, size, size) and out.abs().max() <= 1


def test_dropout_only_in_inner_decoder_blocks():
    generator = UnetGenerator(GeneratorConfig(image_size=256, ngf=4))
    with_dropout = [i for i, block in enumerate(generator.decoder) if any(isinstance(m, nn.Dropout) for m in block)]
    assert with_dropout == [4, 5, 6]  # the three 8*ngf blocks under the innermost, as in pix2pix
    assert not any(
        isinstance(m, nn.Dropout) for m in UnetGenerator(GeneratorConfig(256, ngf=4, dropout=False)).modules()
    )


def test_reference_parameter_count_at_256():
    generator = UnetGenerator(GeneratorConfig(image_size=256, ngf=64))
    assert round(sum(p.numel() for p in generator.parameters()) / 1e6, 1) == 54.4


def test_skip_connections_carry_the_input():
    """With the 1x1 bottleneck cut to zeros, only the skips can make the output follow the input."""
    generator = UnetGenerator(GeneratorConfig(image_size=16, input_channels=3, ngf=4)).eval()
    assert generator.decoder[0][1].in_channels == 2 * 4  # decoder sees its own features + the encoder skip
    generator.encoder[-1].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    first, second = (generator(torch.rand(1, 3, 16, 16) * 2 - 1) for _ in range(2))
    assert (first - second).abs().mean() > 1e-3


def test_patchgan_receptive_field_is_70():
    discriminator = ConditionalDiscriminator(DiscriminatorConfig(input_channels=4, ndf=4))
    [judgement] = discriminator(torch.randn(1, 1, 256, 256), torch.randn(1, 3, 256, 256))
    assert judgement[-1].shape == (1, 1, 30, 30)
    field, jump = 1, 1
    for layer in discriminator.scales[0].modules():
        if isinstance(layer, nn.Conv2d):
            jump_before = jump
            jump *= layer.stride[0]
            field += (layer.kernel_size[0] - 1) * jump_before
    assert field == 70


def test_generator_file_carries_its_config(tmp_path):
    generator = UnetGenerator(GeneratorConfig(image_size=32, input_channels=1, ngf=4, dropout=False))
    save_generator(generator, tmp_path / "g.pt", {})
    loaded = load_generator(tmp_path / "g.pt")
    assert loaded.config == generator.config
    x = torch.randn(1, 1, 32, 32)
    assert torch.equal(loaded.eval()(x), generator.eval()(x))


def test_gan_loss_targets():
    logits = torch.full((1, 1, 4, 4), 10.0)
    assert GanLoss("vanilla")(logits, True) < 1e-3 < GanLoss("vanilla")(logits, False)
    assert GanLoss("lsgan")(torch.ones(3), True) == 0


@pytest.mark.parametrize("blocks", [6, 9])
def test_resnet_generator_keeps_the_size_and_has_its_blocks(blocks):
    config = GeneratorConfig(image_size=32, input_channels=1, ngf=4, architecture="resnet", resnet_blocks=blocks)
    generator = build_generator(config)
    assert isinstance(generator, ResnetGenerator)
    assert sum(type(m).__name__ == "ResidualBlock" for m in generator.modules()) == blocks
    out = generator(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1


def test_reference_resnet_9_blocks_parameter_count():
    """pytorch-CycleGAN-and-pix2pix prints 11.378 M for resnet_9blocks with instance norm (CycleGAN)."""
    generator = build_generator(
        GeneratorConfig(image_size=256, input_channels=3, ngf=64, architecture="resnet", norm="instance")
    )
    assert round(sum(p.numel() for p in generator.parameters()) / 1e6, 3) == 11.378


def test_pixel_discriminator_judges_each_pixel():
    discriminator = ConditionalDiscriminator(DiscriminatorConfig(input_channels=4, ndf=4, architecture="pixel"))
    assert discriminator(torch.randn(1, 1, 32, 32), torch.randn(1, 3, 32, 32))[0][-1].shape == (1, 1, 32, 32)
    assert all(layer.kernel_size == (1, 1) for layer in discriminator.modules() if isinstance(layer, nn.Conv2d))


@pytest.mark.parametrize(
    "variant",
    [
        {"architecture": "resnet", "resnet_blocks": 6, "norm": "instance", "dropout": True},
        {
            "architecture": "unet",
            "norm": "none",
            "input_channels": 3,
            "output_channels": 1,
            "direction": "photo_to_sketch",
        },
    ],
)
def test_any_variant_loads_from_its_file_alone(tmp_path, variant):
    generator = build_generator(GeneratorConfig(image_size=32, ngf=4, **variant))
    save_generator(generator, tmp_path / "g.pt", {})
    loaded = load_generator(tmp_path / "g.pt")
    assert loaded.config == generator.config and type(loaded) is type(generator)
    x = torch.randn(1, generator.config.input_channels, 32, 32)
    assert torch.equal(loaded.eval()(x), generator.eval()(x))


def test_generator_files_written_before_the_options_still_load(tmp_path):
    """Files from before `architecture` existed hold only the U-Net's fields."""
    generator = UnetGenerator(GeneratorConfig(image_size=16, ngf=4))
    old_config = {
        k: v
        for k, v in vars(generator.config).items()
        if k in ("image_size", "input_channels", "output_channels", "ngf", "norm", "dropout")
    }
    torch.save({"config": old_config, "state_dict": generator.state_dict()}, tmp_path / "old.pt")
    loaded = load_generator(tmp_path / "old.pt")
    assert isinstance(loaded, UnetGenerator) and loaded.config == generator.config
    sketches = torch.rand(2, generator.config.input_channels, 16, 16) * 2 - 1
    assert torch.equal(loaded.eval()(sketches), generator.eval()(sketches))


@pytest.mark.parametrize("architecture", ["unet", "resnet"])
def test_resize_upsampling_replaces_every_transposed_convolution(architecture):
    config = GeneratorConfig(image_size=32, input_channels=1, ngf=4, architecture=architecture, resnet_blocks=6)
    transposed, resized = build_generator(config), build_generator(dataclasses.replace(config, upsample="resize"))
    assert any(isinstance(m, nn.ConvTranspose2d) for m in transposed.modules())
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in resized.modules())
    assert sum(isinstance(m, nn.Upsample) for m in resized.modules()) == (5 if architecture == "unet" else 2)
    sketches = torch.randn(2, 1, 32, 32)
    assert resized(sketches).shape == transposed(sketches).shape == (2, 3, 32, 32)


def test_a_generator_file_from_before_the_upsample_option_loads_as_transposed(tmp_path):
    generator = UnetGenerator(GeneratorConfig(image_size=16, ngf=4))
    old_config = {key: value for key, value in vars(generator.config).items() if key != "upsample"}
    torch.save({"config": old_config, "state_dict": generator.state_dict()}, tmp_path / "old.pt")
    assert load_generator(tmp_path / "old.pt").config.upsample == "transposed"


def test_multi_scale_discriminator_judges_the_pair_at_halved_sizes():
    discriminator = ConditionalDiscriminator(DiscriminatorConfig(input_channels=4, ndf=4, scales=3))
    judgement = discriminator(torch.randn(2, 1, 128, 128), torch.randn(2, 3, 128, 128))
    assert [features[-1].shape[-1] for features in judgement] == [14, 6, 2]  # 128, 64, 32 px through a 70x70 PatchGAN
    assert all(len(features) == 5 for features in judgement), "4 blocks of features, then the logits"
    single = ConditionalDiscriminator(DiscriminatorConfig(input_channels=4, ndf=4))
    assert sum(p.numel() for p in discriminator.parameters()) == 3 * sum(p.numel() for p in single.parameters())


def test_spectral_norm_bounds_each_convolutions_largest_singular_value():
    torch.manual_seed(0)
    discriminator = ConditionalDiscriminator(DiscriminatorConfig(input_channels=4, ndf=4, spectral_norm=True))
    for _ in range(20):  # the power iteration converges over forward passes in training mode
        discriminator(torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32))
    convolutions = [layer for layer in discriminator.modules() if isinstance(layer, nn.Conv2d)]
    assert convolutions and all(nn.utils.parametrize.is_parametrized(layer, "weight") for layer in convolutions)
    largest = [torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2).item() for layer in convolutions]
    assert largest == pytest.approx([1.0] * len(convolutions), abs=0.05)
