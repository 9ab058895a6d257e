import copy
from unittest import mock

import pytest
import torch
from torch import nn

from sketch2face.models.cpu import GEMM_MAX_POSITIONS, GemmConv2d, GemmConvTranspose2d, gemm_applies, use_cpu_kernels
from sketch2face.models.generator import GeneratorConfig, UnetGenerator


def twin_layers(gemm_class, plain_class, **options):
    torch.manual_seed(0)
    gemm = gemm_class(**options)
    plain = plain_class(**options)
    plain.load_state_dict(gemm.state_dict())  # same parameters, same state_dict keys
    return gemm, plain


def falls_back_to_pytorch(layer, features, *args) -> bool:
    """Whether the call went to nn.Conv2d's (or nn.ConvTranspose2d's) own forward."""
    pytorch_class = type(layer).__mro__[1]
    with mock.patch.object(pytorch_class, "forward", autospec=True, side_effect=pytorch_class.forward) as forward:
        layer(features, *args)
    return forward.called


def outputs_and_gradients(layer, features, *args):
    features = features.clone().requires_grad_()
    output = layer(features, *args)
    (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum().backward()
    gradients = [features.grad] + [parameter.grad for parameter in layer.parameters()]
    return output.detach(), gradients


@pytest.mark.parametrize(
    ("options", "size"),
    [
        (
            {"in_channels": 8, "out_channels": 6, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False},
            8,
        ),  # U-Net encoder
        ({"in_channels": 5, "out_channels": 3, "kernel_size": 3, "stride": 1, "padding": 2, "dilation": 2}, 5),
        ({"in_channels": 4, "out_channels": 7, "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)}, 5),
    ],
)
def test_gemm_conv_matches_conv2d_in_values_and_gradients(options, size):
    gemm, plain = twin_layers(GemmConv2d, nn.Conv2d, **options)
    features = torch.randn(2, options["in_channels"], size, size)
    assert not falls_back_to_pytorch(gemm, features)
    for got, expected in zip(*(outputs_and_gradients(layer, features) for layer in (gemm, plain)), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("options", "size"),
    [
        (
            {"in_channels": 8, "out_channels": 6, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False},
            4,
        ),  # U-Net decoder
        ({"in_channels": 6, "out_channels": 3, "kernel_size": 4, "stride": 2, "padding": 1}, 1),  # innermost, 1 x 1
        (
            {"in_channels": 4, "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
            3,
        ),  # ResNet up
        ({"in_channels": 3, "out_channels": 2, "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2}, 4),
    ],
)
def test_gemm_transposed_conv_matches_conv_transpose2d(options, size):
    gemm, plain = twin_layers(GemmConvTranspose2d, nn.ConvTranspose2d, **options)
    features = torch.randn(2, options["in_channels"], size, size)
    assert not falls_back_to_pytorch(gemm, features)
    for got, expected in zip(*(outputs_and_gradients(layer, features) for layer in (gemm, plain)), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_large_maps_and_grouped_convs_keep_the_onednn_path():
    conv = GemmConv2d(4, 4, 4, stride=2, padding=1)
    assert falls_back_to_pytorch(conv, torch.randn(1, 4, 32, 32)), "16 x 16 = 256 output positions"
    assert not falls_back_to_pytorch(conv, torch.randn(1, 4, 16, 16)), f"8 x 8 = {GEMM_MAX_POSITIONS} output positions"
    assert falls_back_to_pytorch(GemmConv2d(4, 4, 3, groups=2), torch.randn(1, 4, 4, 4))
    transposed = GemmConvTranspose2d(4, 4, 4, stride=2, padding=1)
    assert falls_back_to_pytorch(transposed, torch.randn(1, 4, 16, 16))
    assert not falls_back_to_pytorch(transposed, torch.randn(1, 4, 8, 8))


CONVOLUTION = {"in_channels": 3, "out_channels": 5, "kernel_size": 3}


@pytest.mark.parametrize(
    ("options", "shape"),
    [
        (dict(CONVOLUTION, padding="same"), (2, 3, 4, 4)),
        (dict(CONVOLUTION, padding="same", dilation=2), (1, 3, 5, 5)),
        (dict(CONVOLUTION, padding="valid"), (2, 3, 4, 4)),
        (dict(CONVOLUTION, padding=1), (3, 4, 4)),  # unbatched (C, H, W)
        (dict(CONVOLUTION, padding="same"), (3, 4, 4)),
    ],
    ids=["same", "same-dilated", "valid", "unbatched", "unbatched-same"],
)
def test_gemm_conv_leaves_string_padding_and_unbatched_input_to_conv2d(options, shape):
    gemm, plain = twin_layers(GemmConv2d, nn.Conv2d, **options)
    features = torch.randn(shape)
    assert not gemm_applies(gemm, features) and falls_back_to_pytorch(gemm, features)
    for got, expected in zip(*(outputs_and_gradients(layer, features) for layer in (gemm, plain)), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("output_size", [None, [5, 5]])
def test_gemm_transposed_conv_leaves_unbatched_input_to_conv_transpose2d(output_size):
    gemm, plain = twin_layers(
        GemmConvTranspose2d, nn.ConvTranspose2d, in_channels=3, out_channels=2, kernel_size=4, stride=2, padding=1
    )
    features = torch.randn(3, 2, 2)
    assert not gemm_applies(gemm, features) and falls_back_to_pytorch(gemm, features, output_size)
    for got, expected in zip(
        *(outputs_and_gradients(layer, features, output_size) for layer in (gemm, plain)), strict=True
    ):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_gemm_layers_follow_bf16_autocast():
    conv, transposed = GemmConv2d(8, 8, 4, 2, 1), GemmConvTranspose2d(8, 8, 4, 2, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.randn(1, 8, 8, 8)).dtype == torch.bfloat16
        assert transposed(torch.randn(1, 8, 4, 4)).dtype == torch.bfloat16


def test_cpu_kernels_are_swapped_in_place_and_compute_the_same_generator():
    torch.manual_seed(0)
    plain = UnetGenerator(GeneratorConfig(image_size=16, ngf=4)).eval()
    faster = use_cpu_kernels(copy.deepcopy(plain))
    kinds = {type(layer) for layer in faster.modules()}
    assert {GemmConv2d, GemmConvTranspose2d} <= kinds and not {nn.Conv2d, nn.ConvTranspose2d} & kinds
    assert faster.state_dict().keys() == plain.state_dict().keys()
    sketches = torch.rand(2, 1, 16, 16) * 2 - 1
    torch.testing.assert_close(faster(sketches), plain(sketches), rtol=1e-4, atol=1e-5)
