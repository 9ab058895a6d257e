import pytest
import torch
from torch import nn

from sketch2face.models.layers import GEMM_MAX_POSITIONS, GemmConv2d, GemmConvTranspose2d, runs_as_gemm


def twin_layers(gemm_class, plain_class, **options):
    torch.manual_seed(0)
    gemm = gemm_class(**options)
    plain = plain_class(**options)
    plain.load_state_dict(gemm.state_dict())  # same parameters, same state_dict keys
    return gemm, plain


def outputs_and_gradients(layer, features):
    features = features.clone().requires_grad_()
    output = layer(features)
    (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum().backward()
    gradients = [features.grad] + [parameter.grad for parameter in layer.parameters()]
    return output.detach(), gradients


@pytest.mark.parametrize(
    "options, size",
    [
        (dict(in_channels=8, out_channels=6, kernel_size=4, stride=2, padding=1, bias=False), 8),  # U-Net encoder
        (dict(in_channels=5, out_channels=3, kernel_size=3, stride=1, padding=2, dilation=2), 5),
        (dict(in_channels=4, out_channels=7, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), 5),
    ],
)
def test_gemm_conv_matches_conv2d_in_values_and_gradients(options, size):
    gemm, plain = twin_layers(GemmConv2d, nn.Conv2d, **options)
    features = torch.randn(2, options["in_channels"], size, size)
    batch, _, height, width = plain(features).shape
    assert runs_as_gemm(gemm, features, batch * height * width)
    for got, expected in zip(*(outputs_and_gradients(layer, features) for layer in (gemm, plain)), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "options, size",
    [
        (dict(in_channels=8, out_channels=6, kernel_size=4, stride=2, padding=1, bias=False), 4),  # U-Net decoder
        (dict(in_channels=6, out_channels=3, kernel_size=4, stride=2, padding=1), 1),  # innermost, 1 x 1
        (dict(in_channels=4, out_channels=5, kernel_size=3, stride=2, padding=1, output_padding=1), 3),  # ResNet up
        (dict(in_channels=3, out_channels=2, kernel_size=3, stride=1, padding=1, dilation=2), 4),
    ],
)
def test_gemm_transposed_conv_matches_conv_transpose2d(options, size):
    gemm, plain = twin_layers(GemmConvTranspose2d, nn.ConvTranspose2d, **options)
    features = torch.randn(2, options["in_channels"], size, size)
    assert runs_as_gemm(gemm, features, 2 * size * size)
    for got, expected in zip(*(outputs_and_gradients(layer, features) for layer in (gemm, plain)), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_large_maps_and_grouped_convs_keep_the_onednn_path():
    conv = GemmConv2d(4, 4, 4, stride=2, padding=1)
    large = torch.randn(1, 4, 32, 32)  # 16 x 16 = 256 output positions
    assert not runs_as_gemm(conv, large, 16 * 16)
    assert not runs_as_gemm(GemmConv2d(4, 4, 3, groups=2), torch.randn(1, 4, 4, 4), 4)
    assert not runs_as_gemm(GemmConv2d(4, 4, 3, padding="same"), torch.randn(1, 4, 4, 4), 16)
    assert runs_as_gemm(conv, large, GEMM_MAX_POSITIONS)


def test_gemm_layers_follow_bf16_autocast():
    conv, transposed = GemmConv2d(8, 8, 4, 2, 1), GemmConvTranspose2d(8, 8, 4, 2, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.randn(1, 8, 8, 8)).dtype == torch.bfloat16
        assert transposed(torch.randn(1, 8, 4, 4)).dtype == torch.bfloat16
