import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_PREPROCESSING, TINY_SIZE
from PIL import Image

from sketch2face import inference
from sketch2face.config import AlignmentParams
from sketch2face.data.align import align_to_eyes, alignment_geometry, center_crop_resize, training_preprocessing
from sketch2face.data.images import ImageReadError
from sketch2face.data.records import EyeCentres
from sketch2face.inference import (
    NO_FACE_FOUND,
    DetectorUnavailable,
    SketchAligner,
    SketchInput,
    collect_sketches,
    face_detector,
    load_sketch_to_photo,
    predict_sketches,
)
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, load_generator, save_generator

STORED_GEOMETRY = AlignmentParams(**TINY_PREPROCESSING["alignment"])


def _read(path):
    return np.asarray(Image.open(path))


def _inputs(demo_sketches):
    return [SketchInput(demo_sketches.folder / f"{stem}.png", stem) for stem in sorted(demo_sketches.eyes)]


@pytest.fixture
def model(tiny_generator_file):
    return load_sketch_to_photo(tiny_generator_file)


def test_generator_file_carries_the_training_geometry(tmp_path, model):
    assert alignment_geometry(model.preprocessing) == STORED_GEOMETRY
    assert training_preprocessing(STORED_GEOMETRY) == TINY_PREPROCESSING

    older = tmp_path / "older.pt"  # as written before the geometry was stored: config and weights only
    generator = UnetGenerator(GeneratorConfig(TINY_SIZE, input_channels=1, ngf=4))
    torch.save({"config": dataclasses.asdict(generator.config), "state_dict": generator.state_dict()}, older)
    assert alignment_geometry(load_sketch_to_photo(older).preprocessing) == AlignmentParams()
    assert isinstance(load_generator(older), UnetGenerator), "load_generator keeps its signature"


def test_detected_eyes_land_where_training_put_them(demo_sketches, model):
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)
    aligned, method = align(demo_sketches.folder / "face0.png")

    page, eyes = demo_sketches.pixels["face0"], demo_sketches.eyes["face0"]
    assert method == "detected eyes" and aligned.shape == (TINY_SIZE, TINY_SIZE)
    np.testing.assert_array_equal(aligned, align_to_eyes(page, eyes, STORED_GEOMETRY, TINY_SIZE))
    assert not np.array_equal(aligned, align_to_eyes(page, eyes, AlignmentParams(), TINY_SIZE))


def test_eyes_estimated_in_a_face_box_are_reported_as_such(demo_sketches, model):
    def estimated(image):
        eyes = demo_sketches.locate_eyes(image)
        return EyeCentres(eyes.left, eyes.right, estimated=True)

    _, method = SketchAligner.for_model(model, "detect", locate_eyes=estimated)(demo_sketches.folder / "face0.png")
    assert method == "eyes placed in the face box"


def test_predict_writes_photos_and_side_by_sides_in_batches(tmp_path, demo_sketches, model):
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)
    report = predict_sketches(_inputs(demo_sketches), model, align, tmp_path, batch_size=2, with_side_by_side=True)

    assert [item.name for item, _ in report.written] == ["face0", "face1", "face2"] and not report.failures
    for stem in ("face0", "face1", "face2"):
        aligned, _ = align(demo_sketches.folder / f"{stem}.png")
        alone = model(torch.from_numpy(aligned)[None, None])[0].permute(1, 2, 0).numpy()
        photo = _read(tmp_path / f"{stem}.png")
        np.testing.assert_array_equal(photo, alone)  # batching changes nothing: inference mode
        pair = _read(tmp_path / f"{stem}_side_by_side.png")
        assert pair.shape == (TINY_SIZE, 2 * TINY_SIZE, 3)
        np.testing.assert_array_equal(pair[:, :TINY_SIZE, 0], aligned)
        np.testing.assert_array_equal(pair[:, TINY_SIZE:], photo)


def test_bad_files_are_reported_and_the_good_ones_still_written(tmp_path, demo_sketches, model):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.png").write_bytes(b"")
    (bad / "text.png").write_text("not a picture")
    whole = (demo_sketches.folder / "face0.png").read_bytes()
    (bad / "truncated.png").write_bytes(whole[: len(whole) // 2])
    inputs = [
        *_inputs(demo_sketches),
        *(SketchInput(bad / name, name) for name in ("empty.png", "text.png", "truncated.png")),
    ]

    align = SketchAligner.for_model(model, "center")
    seen = []
    report = predict_sketches(inputs, model, align, tmp_path / "out", batch_size=4, on_failure=seen.append)

    reasons = {failure.path.rsplit("/", 1)[-1]: failure.reason for failure in report.failures}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["text.png"] == "not a readable image"
    assert reasons["truncated.png"] == "truncated image"
    assert seen == report.failures
    assert len(report.written) == 3 and len(report.written) + len(report.failures) == len(inputs)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["face0.png", "face1.png", "face2.png"]


@pytest.mark.parametrize("mode", ["detect", "center", "none"])
def test_sketches_too_small_or_narrow_for_the_model_are_failures_in_every_align_mode(
    tmp_path, demo_sketches, model, mode
):
    Image.new("L", (7, 7), 255).save(tmp_path / "dot.png")  # the tiny model is 32 px: the shortest side is 8
    Image.new("L", (200, 40), 255).save(tmp_path / "strip.png")
    align = SketchAligner.for_model(model, mode, locate_eyes=demo_sketches.locate_eyes, no_face="center_crop")

    expected = {
        "dot.png": "too small to hold a face (7x7 px; shorter side under 8 px)",
        "strip.png": "extreme aspect ratio (200x40 px; the longer side is over 4 times the shorter)",
    }
    for name, reason in expected.items():
        with pytest.raises(ImageReadError) as error:
            align(tmp_path / name)
        assert error.value.reason == reason


def test_no_face_is_a_failure_unless_centre_cropping_is_asked_for(tmp_path, demo_sketches, model):
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 60), 255).save(blank)

    with pytest.raises(inference.UnusableSketch, match=NO_FACE_FOUND):
        SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)(blank)
    lenient = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes, no_face="center_crop")
    aligned, method = lenient(blank)
    assert method == "center crop" and aligned.shape == (TINY_SIZE, TINY_SIZE)


def test_align_modes_center_and_none(tmp_path, demo_sketches, model):
    page = demo_sketches.folder / "face1.png"
    aligned, method = SketchAligner.for_model(model, "center")(page)
    assert method == "center crop"
    np.testing.assert_array_equal(aligned, center_crop_resize(demo_sketches.pixels["face1"], TINY_SIZE))

    with pytest.raises(inference.UnusableSketch, match="not square"):
        SketchAligner.for_model(model, "none")(page)
    square = tmp_path / "square.png"
    Image.new("L", (TINY_SIZE, TINY_SIZE), 7).save(square)
    assert SketchAligner.for_model(model, "none")(square)[0].max() == 7


def test_detect_without_the_detector_module_explains_the_alternatives(monkeypatch, model):
    monkeypatch.setattr(inference, "DETECTOR_MODULE", "sketch2face.data.no_such_detector")
    with pytest.raises(DetectorUnavailable, match="--align center"):
        face_detector()
    with pytest.raises(ValueError, match="eye locator"):
        SketchAligner.for_model(model, "detect")


def test_folders_are_walked_and_every_file_is_accounted_for(tmp_path):
    sketches = tmp_path / "in"
    (sketches / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.jpg", "c.png", "c.jpg"):
        Image.new("L", (8, 8)).save(sketches / name)
    (sketches / "notes.txt").write_text("hi")
    single = tmp_path / "single.png"
    Image.new("L", (8, 8)).save(single)

    inputs, failures = collect_sketches(
        [sketches, single, tmp_path / "missing.png", sketches, single], tmp_path / "out"
    )

    assert [(item.path.relative_to(tmp_path).as_posix(), item.name) for item in inputs] == [
        ("in/a.png", "a"),
        ("in/c.jpg", "c"),
        ("in/sub/b.jpg", "sub/b"),
        ("single.png", "single"),
    ]
    assert len(failures) == 3, "a file given twice is counted once, also when it fails"
    reasons = {failure.path.rsplit("/", 1)[-1]: failure.reason for failure in failures}
    assert reasons == {
        "notes.txt": "not an image file (suffix '.txt')",
        "c.png": f"same output name as {sketches / 'c.jpg'}",
        "missing.png": "no such file or folder",
    }


def test_linked_folders_are_walked_and_unreadable_links_are_failures(tmp_path):
    """Link loops and broken links were once left out of the summary, so its counts did not add up."""
    scans = _sketch_folder(tmp_path / "other_disk/scans", ["b.png"])
    sketches = _sketch_folder(tmp_path / "in", ["a.png"])
    (sketches / "scans").symlink_to(scans)
    (sketches / "loop").symlink_to(sketches)
    (sketches / "gone.png").symlink_to(tmp_path / "deleted.png")
    (tmp_path / "self.png").symlink_to(tmp_path / "self.png")
    (sketches / "._a.png").write_bytes(b"\0")  # macOS resource fork

    inputs, failures = collect_sketches([sketches, tmp_path / "self.png"], tmp_path / "out")

    assert [(item.path, item.name) for item in inputs] == [
        (sketches / "a.png", "a"),
        (sketches / "scans/b.png", "scans/b"),
    ]
    assert {failure.path: failure.reason for failure in failures} == {
        str(sketches / "._a.png"): "hidden file, not read",
        str(sketches / "gone.png"): f"broken symbolic link (its target {tmp_path / 'deleted.png'} does not exist)",
        str(sketches / "loop"): f"symbolic link loop (back to {sketches}), not followed",
        str(tmp_path / "self.png"): "symbolic link loop (its links lead in a circle), not followed",
    }


def _sketch_folder(folder, names):
    folder.mkdir(parents=True)
    for name in names:
        Image.new("L", (8, 8)).save(folder / name)
    return folder


def test_an_output_folder_inside_the_input_folder_reads_back_only_what_is_not_this_runs_output(tmp_path):
    sketches = _sketch_folder(tmp_path / "in", ["a.png", "b.jpg"])
    out = _sketch_folder(sketches / "out", ["a.png", "a_side_by_side.png", "old.png"])  # an earlier run's photos

    inputs, failures = collect_sketches([sketches], out)

    assert [item.name for item in inputs] == ["a", "b", "out/old"], "old.png is not what this run writes: it is read"
    assert {failure.path: failure.reason for failure in failures} == {
        str(out / name): f"named like the output of {sketches / 'a.png'}: not read as a sketch"
        for name in ("a.png", "a_side_by_side.png")
    }


def test_the_output_folder_may_be_the_input_folder_or_its_parent(tmp_path, monkeypatch, model):
    """`sketch2face predict same -o .` once silently dropped every input under the output folder."""
    monkeypatch.chdir(tmp_path)
    same = _sketch_folder(tmp_path / "same", ["a.png", "b.jpg"])

    inputs, failures = collect_sketches([Path("same")], Path("."))
    assert [item.name for item in inputs] == ["a", "b"] and failures == []
    report = predict_sketches(inputs, model, SketchAligner.for_model(model, "center"), Path("."))
    assert len(report.written) == 2 and (tmp_path / "a.png").is_file() and (tmp_path / "b.png").is_file()

    inputs, failures = collect_sketches([same], same)
    assert [item.name for item in inputs] == ["b"], "b.jpg becomes same/b.png"
    assert [(failure.path, failure.reason) for failure in failures] == [
        (str(same / "a.png"), f"its photo would overwrite it (choose an -o folder other than {same})"),
    ]


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


def test_given_eyes_override_the_detector(demo_sketches, model):
    page, eyes = demo_sketches.pixels["face2"], demo_sketches.eyes["face2"]
    moved = EyeCentres((eyes.left[0] - 3, eyes.left[1] + 2), eyes.right)
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)

    aligned, method, used = align.align(page, "upload", moved)

    assert method == "given eyes" and used == moved
    np.testing.assert_array_equal(aligned, align_to_eyes(page, moved, STORED_GEOMETRY, TINY_SIZE))
    assert not np.array_equal(aligned, align.align(page, "upload")[0])


@pytest.mark.parametrize(
    ("left", "right", "reason"),
    [
        ((60.0, 50.0), (30.0, 50.0), "eyes in the wrong order: the left eye (x=60) must have a smaller x"),
        ((40.0, 50.0), (40.0, 60.0), "eyes in the wrong order"),
        ((30.0, 50.0), (500.0, 50.0), "cannot align on the given eyes (eye centres outside the image"),
        ((30.0, float("nan")), (60.0, 50.0), "cannot align on the given eyes (eye centres are not finite"),
    ],
)
def test_given_eyes_off_the_image_or_in_the_wrong_order_are_refused(demo_sketches, model, left, right, reason):
    align = SketchAligner.for_model(model, "center")
    with pytest.raises(inference.UnusableSketch) as error:
        align.align(demo_sketches.pixels["face0"], "upload", EyeCentres(left, right))
    assert error.value.path == "upload" and error.value.reason.startswith(reason), error.value.reason


def test_a_centre_crop_reports_the_eyes_it_implies(model):
    """Aligning on those eyes redoes the centre crop: a person can start from them and correct them."""
    rows, columns = np.mgrid[0:128, 0:96]
    page = (127 + 100 * np.sin(rows / 9.0) * np.cos(columns / 7.0)).astype(np.uint8)  # smooth, 96 wide, 128 high
    align = SketchAligner.for_model(model, "center")

    eyes, method = align.find_eyes(page, "page")

    assert method == "center crop" and eyes.estimated
    assert eyes.left[1] == eyes.right[1] and 0 < eyes.left[0] < eyes.right[0] < 96
    on_eyes = align_to_eyes(page, eyes, STORED_GEOMETRY, TINY_SIZE).astype(int)
    assert align.align(page, "page")[1:] == ("center crop", eyes)
    assert np.abs(on_eyes - center_crop_resize(page, TINY_SIZE)).max() <= 2  # rounding; one pixel off gives 42


def test_no_face_fails_in_find_eyes_as_in_align(tmp_path, demo_sketches, model):
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)
    with pytest.raises(inference.UnusableSketch, match=NO_FACE_FOUND):
        align.find_eyes(np.full((40, 60), 255, np.uint8), "blank")
    eyes, method = align.find_eyes(demo_sketches.pixels["face1"], "face1")
    assert (eyes, method) == (demo_sketches.eyes["face1"], "detected eyes")
    assert align.align(demo_sketches.pixels["face1"], "face1")[1:] == ("detected eyes", eyes)


# ---- appearance hints ---------------------------------------------------------------------------


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
        _inputs(demo_sketches), model, align, tmp_path / "hinted", batch_size=3, hints=lambda item: colours[item.name]
    )
    predict_sketches(_inputs(demo_sketches), model, align, tmp_path / "plain", batch_size=3)
    for item in _inputs(demo_sketches):
        sketch = torch.from_numpy(align(item.path)[0])[None, None]
        expected = model(sketch, **texts[item.name])[0].permute(1, 2, 0).numpy()
        assert np.array_equal(_read(tmp_path / "hinted" / f"{item.name}.png"), expected)
        same = np.array_equal(_read(tmp_path / "plain" / f"{item.name}.png"), expected)
        assert same == (item.name == "face2"), "no hints is the model's own guess"


def test_hints_for_a_generator_without_them_are_refused(model, hinted_generator_file):
    inference.check_hints_for_model(load_sketch_to_photo(hinted_generator_file), ["skin", "hair"], "x")
    problem = "the command line gives skin colours, but this generator was trained without hints"
    with pytest.raises(inference.HintsError, match=problem):
        inference.check_hints_for_model(model, ["skin"], "the command line")
