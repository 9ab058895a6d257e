import dataclasses

import numpy as np
import pytest
import torch
from conftest import TINY_PREPROCESSING, TINY_SIZE
from PIL import Image

from sketch2face import inference
from sketch2face.config import AlignmentParams
from sketch2face.data.align import alignment_geometry, training_preprocessing
from sketch2face.inference import (
    SketchAligner,
    SketchInput,
    load_sketch_to_photo,
    predict_sketches,
)
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, load_generator, save_generator

STORED_GEOMETRY = AlignmentParams(**TINY_PREPROCESSING["alignment"])


def _read(path):
    return np.asarray(Image.open(path))


def _inputs(demo_sketches):
    return [SketchInput(demo_sketches.folder / f"{stem}.png", stem) for stem in sorted(demo_sketches.eyes)]


def test_generator_file_carries_the_training_geometry(tmp_path, tiny_model):
    assert alignment_geometry(tiny_model.preprocessing) == STORED_GEOMETRY
    assert training_preprocessing(STORED_GEOMETRY) == TINY_PREPROCESSING

    older = tmp_path / "older.pt"  # as written before the geometry was stored: config and weights only
    generator = UnetGenerator(GeneratorConfig(TINY_SIZE, input_channels=1, ngf=4))
    torch.save({"config": dataclasses.asdict(generator.config), "state_dict": generator.state_dict()}, older)
    assert alignment_geometry(load_sketch_to_photo(older).preprocessing) == AlignmentParams()
    assert isinstance(load_generator(older), UnetGenerator), "load_generator keeps its signature"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_photos_match_cpu_photos(tmp_path, demo_sketches, tiny_generator_file):
    align = SketchAligner.for_model(load_sketch_to_photo(tiny_generator_file), "center")
    for device in ("cpu", "cuda"):
        model = load_sketch_to_photo(tiny_generator_file, device)
        predict_sketches(_inputs(demo_sketches), model, align, tmp_path / device, batch_size=3)
    for stem in demo_sketches.eyes:
        difference = _read(tmp_path / "cpu" / f"{stem}.png").astype(int) - _read(tmp_path / "cuda" / f"{stem}.png")
        assert np.abs(difference).max() <= 1  # float rounding may move a pixel by one level


def test_a_photo_to_sketch_generator_is_refused(tmp_path):
    path = tmp_path / "generator.pt"
    save_generator(
        UnetGenerator(
            GeneratorConfig(TINY_SIZE, input_channels=3, output_channels=1, ngf=4, direction="photo_to_sketch")
        ),
        path,
        {},
    )
    with pytest.raises(ValueError, match="photo_to_sketch generator cannot turn sketches into photos"):
        inference.load_sketch_to_photo(path)
