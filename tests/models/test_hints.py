import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from sketch2face.colour import parse_colour
from sketch2face.models.generator import (
    GeneratorConfig,
    UnetGenerator,
    build_generator,
    load_generator,
    load_generator_file,
    save_generator,
)
from sketch2face.models.hints import encode_hints, select_hints
from sketch2face.models.sketch_to_photo import SketchToPhoto

NAN = float("nan")
SKETCHES = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
VARIANTS = [
    {"architecture": architecture, "hint_injection": injection, "resnet_blocks": 6}
    for architecture in ("unet", "resnet")
    for injection in ("channels", "film")
]


def _hinted(seed: int = 0, **variant) -> nn.Module:
    """A generator with both hints whose FiLM (if any) is not at its identity start, as after training."""
    torch.manual_seed(seed)
    generator = build_generator(GeneratorConfig(image_size=32, ngf=4, hints=("skin", "hair"), **variant))
    if generator.film is not None:
        nn.init.normal_(generator.film.mlp[-1].weight, 0, 0.5)
    return generator.eval()


def test_each_hint_is_four_numbers_and_an_absent_one_is_zeros():
    hints = torch.tensor([[[50.0, 64.0, -32.0], [NAN, NAN, NAN]], [[100.0, 0.0, 0.0], [10.0, NAN, 0.0]]])
    encoded = encode_hints(hints, 2, 2, torch.device("cpu"))
    assert encoded.tolist() == [[0.5, 0.5, -0.25, 1.0, 0, 0, 0, 0], [1.0, 0.0, 0.0, 1.0, 0, 0, 0, 0]]
    assert torch.equal(encode_hints(None, 2, 2, torch.device("cpu")), torch.zeros(2, 8))
    appearance = torch.arange(12.0).reshape(2, 2, 3)  # skin, hair
    assert torch.equal(select_hints(appearance, ("hair",)), appearance[:, 1:])
    assert torch.equal(select_hints(appearance, ("hair", "skin")), appearance.flip(1))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v['architecture']}-{v['hint_injection']}")
def test_hints_change_the_photo_and_absent_hints_are_no_hints(variant):
    generator = _hinted(**variant)
    sketches = torch.rand(2, 1, 32, 32) * 2 - 1
    dark = torch.tensor([[[30.0, 12.0, 13.0], [15.0, 2.0, 4.0]]] * 2)
    light = torch.tensor([[[94.0, 1.5, 5.4], [70.0, 5.0, 30.0]]] * 2)
    with torch.no_grad():
        without = generator(sketches)
        assert torch.equal(generator(sketches, torch.full((2, 2, 3), NAN)), without)
        assert not torch.allclose(generator(sketches, dark), generator(sketches, light))
        assert not torch.allclose(generator(sketches, dark), without)


def test_channels_widen_the_first_convolution_and_film_starts_as_the_identity():
    channels = UnetGenerator(GeneratorConfig(image_size=32, ngf=4, hints=("skin", "hair")))
    assert channels.encoder[0][0].in_channels == 1 + 8 and channels.film is None
    torch.manual_seed(0)
    film = UnetGenerator(GeneratorConfig(image_size=32, ngf=4, hints=("skin",), hint_injection="film")).eval()
    torch.manual_seed(0)
    plain = UnetGenerator(GeneratorConfig(image_size=32, ngf=4)).eval()
    plain.load_state_dict({key: value for key, value in film.state_dict().items() if not key.startswith("film.")})
    sketches = torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(film(sketches, torch.tensor([[[40.0, 10.0, 20.0]]] * 2)), plain(sketches))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v['architecture']}-{v['hint_injection']}")
def test_the_generator_file_records_its_hints(tmp_path, variant):
    generator = _hinted(**variant)
    save_generator(generator, tmp_path / "g.pt", {})
    loaded = load_generator(tmp_path / "g.pt").eval()
    assert loaded.config == generator.config and loaded.config.hints == ("skin", "hair")
    hints = torch.tensor([[[30.0, 12.0, 13.0], [15.0, 2.0, 4.0]]])
    sketch = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(sketch, hints), generator(sketch, hints))


def test_a_generator_file_from_before_hints_loads_and_runs_without_them(tmp_path):
    generator = UnetGenerator(GeneratorConfig(image_size=32, ngf=4)).eval()
    old_config = {key: value for key, value in dataclasses.asdict(generator.config).items() if "hint" not in key}
    torch.save({"config": old_config, "state_dict": generator.state_dict()}, tmp_path / "old.pt")
    model = SketchToPhoto(*load_generator_file(tmp_path / "old.pt"))
    assert model.config.hints == () and torch.equal(model(SKETCHES), SketchToPhoto(generator, {})(SKETCHES))
    assert torch.equal(model(SKETCHES, skin="auto", hair=None), model(SKETCHES))
    with pytest.raises(ValueError, match="hint skin given, but this generator takes no hints"):
        model(SKETCHES, skin="#8d5524")


def test_users_give_colours_as_text_or_cielab_for_all_sketches_or_one_each():
    model = SketchToPhoto(_hinted(), {})
    brown = parse_colour("#8d5524")
    given = model(SKETCHES, skin="#8d5524", hair="black")
    assert torch.equal(given, model(SKETCHES, skin=["#8d5524"], hair=["black"] * 3))
    assert torch.equal(given, model(SKETCHES, skin=torch.tensor(brown), hair=np.array([parse_colour("black")] * 3)))
    assert torch.equal(given, model(SKETCHES, skin=np.array(["#8d5524"] * 3), hair=np.array(["black"], object)))
    assert not torch.equal(given, model(SKETCHES))
    each = model(SKETCHES, skin=["monk-01", "auto", "monk-10"])
    for index, colour in enumerate(["monk-01", "auto", "monk-10"]):
        assert torch.equal(each[index], model(SKETCHES[index : index + 1], skin=colour)[0])
    assert torch.equal(model(SKETCHES, skin="auto", hair="auto"), model(SKETCHES))
    assert torch.equal(model(SKETCHES, skin=[[NAN] * 3] * 3), model(SKETCHES))


@pytest.mark.parametrize(
    ("hints", "problem"),
    [
        ({"eyes": "#000000"}, "unknown hint 'eyes'; hints are skin, hair"),
        ({"skin": "#zz0000"}, r"hint skin: '#zz0000' is not a colour: give a hex sRGB colour"),
        ({"skin": ["black", "white"]}, "hint skin: 2 values for 3 sketches: give one for all or one per sketch"),
    ],
)
def test_a_bad_hint_is_an_error_that_names_it(hints, problem):
    with pytest.raises(ValueError, match=problem):
        SketchToPhoto(_hinted(), {})(SKETCHES, **hints)


def test_a_hint_the_generator_was_not_trained_with_is_refused():
    generator = build_generator(GeneratorConfig(image_size=32, ngf=4, hints=("hair",)))
    model = SketchToPhoto(generator, {})
    assert model(SKETCHES, hair="red").shape == (3, 3, 32, 32)
    with pytest.raises(ValueError, match="hint skin given, but this generator takes only hair"):
        model(SKETCHES, skin="monk-05")


def test_the_test_batch_protocol_gives_each_sketch_its_own_hints():
    model = SketchToPhoto(_hinted(), {"inference": "test_batch"})
    colours = ["monk-02", "monk-06", "monk-09"]
    torch.manual_seed(1)
    together = model(SKETCHES, skin=colours, hair="black")
    torch.manual_seed(1)
    alone = torch.cat([model(SKETCHES[i : i + 1], skin=skin, hair="black") for i, skin in enumerate(colours)])
    assert torch.equal(together, alone)
