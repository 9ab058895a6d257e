import cv2
import numpy as np
import pytest
import torch

from sketch2face.colour import (
    HAIR_COLOURS,
    MONK_SKIN_TONES,
    delta_e,
    exposed_lab,
    hex_to_srgb,
    lab_to_hex,
    lab_to_srgb,
    linear_to_srgb,
    parse_colour,
    srgb_to_lab,
    srgb_to_linear,
)


def test_cielab_agrees_with_opencv_and_round_trips():
    pixels = np.random.default_rng(0).integers(0, 256, (500, 3)).astype(np.uint8)
    opencv = cv2.cvtColor(pixels[None].astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[0]
    ours = srgb_to_lab(pixels)
    assert np.abs(ours - opencv).max() < 0.5  # OpenCV rounds its constants; a just-noticeable difference is ~2.3
    np.testing.assert_allclose(lab_to_srgb(ours), pixels, atol=1e-6)
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 255, 255])), [100, 0, 0], atol=0.01)  # D65 white


def test_colours_are_parsed_from_hex_monk_names_and_hair_names():
    assert parse_colour("#8d5524") == parse_colour("8D5524") == parse_colour(" #8d5524 ")
    assert lab_to_hex(parse_colour("#8d5524")) == "#8d5524"
    assert parse_colour("monk-7") == parse_colour("MONK-07") == tuple(srgb_to_lab(np.array(hex_to_srgb("#825c43"))))
    assert parse_colour("auto") is None and parse_colour("Auto") is None
    assert lab_to_hex(parse_colour("dark_brown")) == HAIR_COLOURS["dark_brown"]
    lightness = [parse_colour(name)[0] for name in MONK_SKIN_TONES]
    assert len(lightness) == 10 and lightness[0] > 90 > 20 > lightness[-1]  # the scale runs light to dark
    assert delta_e(parse_colour("black"), parse_colour("white")) > 60


@pytest.mark.parametrize("text", ["#12345", "#gg0000", "monk-11", "monk-0", "beige", "", "#8d5524ff"])
def test_a_bad_colour_is_named_with_what_is_allowed(text):
    with pytest.raises(
        ValueError,
        match=rf"'{text}' is not a colour: give a hex sRGB colour \(#rrggbb\), a Monk "
        r"Skin Tone \(monk-01 \.\. monk-10\), a hair colour \(black, .*\) or auto",
    ):
        parse_colour(text)


def test_the_srgb_transfer_curves_invert_each_other_on_arrays_and_tensors():
    values = np.linspace(0, 1, 257)
    assert np.allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-12)
    assert srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0])) == pytest.approx(
        [0, 0.04045 / 12.92, 0.21404, 1], abs=1e-5
    )
    tensor = torch.from_numpy(values)
    assert torch.allclose(srgb_to_linear(tensor), torch.from_numpy(srgb_to_linear(values)))
    assert torch.allclose(linear_to_srgb(tensor), torch.from_numpy(linear_to_srgb(values)))


@pytest.mark.parametrize("gain", [1.0, 0.7, 0.5, 0.35])
def test_an_exposed_lab_colour_is_the_lab_of_the_colour_with_its_linear_light_scaled(gain):
    skin = np.array([[246, 237, 228], [160, 126, 86], [58, 49, 42], [224, 172, 105]], np.float64)  # Monk 1, 6, 9, tan
    darker = linear_to_srgb(srgb_to_linear(skin / 255) * gain) * 255
    error = np.abs(exposed_lab(srgb_to_lab(skin), np.full(4, gain)) - srgb_to_lab(darker))
    assert error.max() < 0.01, "exact but for Monk 9 at L 10, where CIELAB's blue turns linear"
