from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sketch2face import inference
from sketch2face.data.images import read_image
from sketch2face.inference import (
    SketchAligner,
    collect_sketches,
    load_sketch_to_photo,
    predict_sketches,
)


def _hints_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_hints_file_names_inputs_as_given_or_relative_to_their_folder(tmp_path):
    (tmp_path / "scans" / "sub").mkdir(parents=True)
    for name in ("scans/a.png", "scans/sub/b.png", "c.png"):
        Image.fromarray(np.full((64, 64), 200, np.uint8)).save(tmp_path / name)
    inputs, failures = collect_sketches([tmp_path / "scans", tmp_path / "c.png"], tmp_path / "out")
    assert failures == [] and {item.relative for item in inputs} == {"a.png", "sub/b.png", None}
    csv = _hints_csv(
        tmp_path / "hints.csv",
        f"file,skin,hair\nsub/b.png,monk-08,\n{tmp_path / 'c.png'},auto,black\n ./a.png , #8D5524 , dark_brown\n",
    )
    hints = inference.read_hints_file(csv, inputs)
    assert hints == {
        str(tmp_path / "scans/sub/b.png"): {"skin": inference.parse_colour("monk-08")},  # an empty cell: no colour
        str(tmp_path / "c.png"): {"skin": None, "hair": inference.parse_colour("black")},
        str(tmp_path / "scans/a.png"): {
            "skin": inference.parse_colour("#8d5524"),
            "hair": inference.parse_colour("dark_brown"),
        },
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("file,skin\nmissing.png,black\n", r"hints.csv line 2: file 'missing.png' is not one of the sketches given"),
        (
            "file,skin\nface0.png,#8d5524\nface1.png,beige\n",
            r"hints.csv line 3, skin: 'beige' is not a colour: give a hex sRGB colour \(#rrggbb\), a Monk Skin Tone",
        ),
        ("file,skin\nface0.png,black\nface0.png,white\n", r"hints.csv line 3: .*face0.png already has hints on line 2"),
        ("file,eyes\nface0.png,blue\n", r"hints.csv: unknown columns \['eyes'\]; the columns are file and any of skin"),
        (
            "name,skin\nface0.png,blue\n",
            (
                r"hints.csv: no 'file' column and unknown columns \['name'\]; the columns are "
                r"file and any of skin, hair"
            ),
        ),
        ("", r"hints.csv: cannot read it as CSV \(No columns to parse from file\)"),
    ],
)
def test_a_bad_hints_file_is_an_error_naming_the_row_and_the_problem(tmp_path, demo_sketches, text, problem):
    inputs, _ = collect_sketches([demo_sketches.folder], tmp_path / "out")
    with pytest.raises(inference.HintsError, match=problem):
        inference.read_hints_file(_hints_csv(tmp_path / "hints.csv", text), inputs)


def test_predict_gives_each_sketch_its_hints(tmp_path, demo_sketches, hinted_generator_file):
    model = load_sketch_to_photo(hinted_generator_file)
    align = SketchAligner.for_model(model, "center")
    texts = {"face0": {"skin": "monk-02"}, "face1": {"skin": "monk-09", "hair": "red"}, "face2": {}}
    parse = inference.parse_colour
    colours = {face: {name: parse(text) for name, text in named.items()} for face, named in texts.items()}
    predict_sketches(
        demo_sketches.inputs(), model, align, tmp_path / "hinted", batch_size=3, hints=lambda item: colours[item.name]
    )
    predict_sketches(demo_sketches.inputs(), model, align, tmp_path / "plain", batch_size=3)
    for item in demo_sketches.inputs():
        sketch = torch.from_numpy(align(item.path)[0])[None, None]
        expected = model(sketch, **texts[item.name])[0].permute(1, 2, 0).numpy()
        assert np.array_equal(read_image(tmp_path / "hinted" / f"{item.name}.png", "rgb"), expected)
        same = np.array_equal(read_image(tmp_path / "plain" / f"{item.name}.png", "rgb"), expected)
        assert same == (item.name == "face2"), "no hints is the model's own guess"


def test_hints_for_a_generator_without_them_are_refused(tiny_model, hinted_generator_file):
    inference.check_hints_for_model(load_sketch_to_photo(hinted_generator_file), ["skin", "hair"], "x")
    problem = "the command line gives skin colours, but this generator was trained without hints"
    with pytest.raises(inference.HintsError, match=problem):
        inference.check_hints_for_model(tiny_model, ["skin"], "the command line")
