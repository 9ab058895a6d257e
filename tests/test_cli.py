import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import python_path
from PIL import Image

from sketch2face import cli, inference
from sketch2face.cli import EXIT_NOTHING_PROCESSED, EXIT_OK, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_detector(monkeypatch):
    monkeypatch.setattr(inference.alignment, "DETECTOR_MODULE", "sketch2face.data.no_such_detector")


def _predict(*arguments):
    return main(["predict", *map(str, arguments)])


def test_folder_with_bad_files_processes_the_good_ones_and_exits_zero(
    tmp_path, capsys, demo_sketches, tiny_generator_file
):
    (tmp_path / "empty.png").write_bytes(b"")
    out = tmp_path / "out"

    code = _predict(
        demo_sketches.folder,
        tmp_path / "empty.png",
        "-o",
        out,
        "--model",
        tiny_generator_file,
        "--align",
        "center",
        "--side-by-side",
        "--batch-size",
        "2",
    )

    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        f"face{i}{suffix}.png" for i in range(3) for suffix in ("", "_side_by_side")
    ]
    assert f"skipped {tmp_path / 'empty.png'}: empty file (0 bytes)" in captured.err
    assert "processed 3, failed 1" in captured.out and "3 center crop" in captured.out


def test_nothing_processed_exits_one_with_the_reasons(tmp_path, capsys, tiny_generator_file):
    (tmp_path / "text.png").write_text("not a picture")
    code = _predict(
        tmp_path / "text.png",
        tmp_path / "missing.jpg",
        "-o",
        tmp_path / "out",
        "--model",
        tiny_generator_file,
        "--align",
        "center",
    )
    out = capsys.readouterr().out
    assert code == EXIT_NOTHING_PROCESSED
    assert "processed 0, failed 2" in out
    assert "text.png: not a readable image" in out and "missing.jpg: no such file or folder" in out


def test_missing_model_is_a_usage_error(tmp_path, capsys):
    code = _predict(tmp_path, "-o", tmp_path / "out", "--model", tmp_path / "nope.pt", "--align", "center")
    assert code == EXIT_USAGE
    assert "model file not found" in capsys.readouterr().err


def test_a_file_that_is_not_a_generator_is_a_one_line_usage_error(tmp_path, capsys):
    (tmp_path / "README.md").write_text("# not a model")
    code = _predict(tmp_path, "-o", tmp_path / "out", "--model", tmp_path / "README.md", "--align", "center")
    error = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert error.startswith(
        f"sketch2face predict: error: cannot load the generator file {tmp_path / 'README.md'} (is it a generator.pt?)"
    )
    assert error.count("\n") == 1


def test_an_output_that_is_a_file_is_a_usage_error(tmp_path, capsys, demo_sketches, tiny_generator_file):
    (tmp_path / "photos.png").write_bytes(b"x")
    code = _predict(
        demo_sketches.folder, "-o", tmp_path / "photos.png", "--model", tiny_generator_file, "--align", "center"
    )
    assert code == EXIT_USAGE
    assert "photos.png is a file; -o takes the folder the photos go to" in capsys.readouterr().err


def test_a_sketch_given_twice_becomes_one_photo(tmp_path, capsys, demo_sketches, tiny_generator_file):
    single = sorted(demo_sketches.folder.iterdir())[0]
    code = _predict(
        demo_sketches.folder, single, "-o", tmp_path / "out", "--model", tiny_generator_file, "--align", "center"
    )
    assert code == EXIT_OK
    assert "processed 3, failed 0" in capsys.readouterr().out


def test_detect_without_the_detector_is_a_usage_error(tmp_path, capsys, no_detector, tiny_generator_file):
    code = _predict(tmp_path, "-o", tmp_path / "out", "--model", tiny_generator_file, "--align", "detect")
    assert code == EXIT_USAGE
    assert "--align center" in capsys.readouterr().err


def test_default_alignment_is_centre_crop_with_a_note_when_no_detector(
    tmp_path, capsys, no_detector, demo_sketches, tiny_generator_file
):
    assert _predict(demo_sketches.folder / "face0.png", "-o", tmp_path, "--model", tiny_generator_file) == EXIT_OK
    captured = capsys.readouterr()
    assert "face detection is not installed" in captured.err and "1 center crop" in captured.out


def test_detect_uses_the_detector_and_reports_faceless_sketches(
    tmp_path, capsys, monkeypatch, demo_sketches, tiny_generator_file
):
    monkeypatch.setattr(cli, "detector_available", lambda: True)
    monkeypatch.setattr(cli, "face_detector", lambda: demo_sketches.locate_eyes)
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")

    code = _predict(
        demo_sketches.folder, tmp_path / "blank.png", "-o", tmp_path / "out", "--model", tiny_generator_file
    )

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "processed 3, failed 1" in out and "3 detected eyes" in out
    assert f"{tmp_path / 'blank.png'}: no face found" in out


def test_model_uri_gives_the_same_photo_as_the_file(tmp_path, logged_generator, demo_sketches, tiny_generator_file):
    sketch = demo_sketches.folder / "face1.png"
    assert _predict(sketch, "-o", tmp_path / "file", "--model", tiny_generator_file, "--align", "center") == EXIT_OK
    code = _predict(sketch, "-o", tmp_path / "uri", "--model-uri", logged_generator.registered_uri, "--align", "center")
    assert code == EXIT_OK
    from_file = np.asarray(Image.open(tmp_path / "file" / "face1.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "uri" / "face1.png")), from_file)


def test_unknown_model_uri_is_a_usage_error(tmp_path, capsys, logged_generator):
    code = _predict(tmp_path, "-o", tmp_path / "out", "--model-uri", "models:/no-such-model@champion")
    assert code == EXIT_USAGE
    assert "cannot load the MLflow model models:/no-such-model@champion" in capsys.readouterr().err


def test_bad_batch_size_is_rejected_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _predict(tmp_path, "-o", tmp_path / "out", "--batch-size", "0")
    assert exit_info.value.code == EXIT_USAGE
    assert "must be at least 1" in capsys.readouterr().err


def test_model_uri_without_a_store_creates_none(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert _predict(tmp_path, "-o", "out", "--model-uri", "models:/sketch2face@champion") == EXIT_USAGE
    assert "no MLflow store" in capsys.readouterr().err and not (tmp_path / "mlflow.db").exists()


def test_the_summary_counts_every_input_also_links_that_cannot_be_read(
    tmp_path, capsys, demo_sketches, tiny_generator_file
):
    sketches = tmp_path / "in"
    sketches.mkdir()
    for sketch in sorted(demo_sketches.folder.iterdir()):
        (sketches / sketch.name).write_bytes(sketch.read_bytes())
    (sketches / "loop").symlink_to(sketches)
    (sketches / "gone.png").symlink_to(tmp_path / "deleted.png")

    code = _predict(sketches, "-o", tmp_path / "out", "--model", tiny_generator_file, "--align", "center")

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "processed 3, failed 2" in out
    assert f"{sketches / 'loop'}: symbolic link loop" in out and f"{sketches / 'gone.png'}: broken symbolic link" in out


def test_sketch_names_that_are_not_utf8_are_processed_and_reported_with_their_bytes_escaped(
    tmp_path, capsys, demo_sketches, tiny_generator_file
):
    sketches = tmp_path / "in"
    sketches.mkdir()
    latin1 = bytes(sketches) + b"/caf\xe9"
    Path(os.fsdecode(latin1 + b".png")).write_bytes((demo_sketches.folder / "face0.png").read_bytes())
    Path(os.fsdecode(latin1 + b"_vide.png")).write_bytes(b"")
    out = tmp_path / "out"

    code = _predict(sketches, "-o", out, "--model", tiny_generator_file, "--align", "center")

    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "processed 1, failed 1" in captured.out
    assert f"{sketches}/caf\\xe9_vide.png: empty file (0 bytes)" in captured.out
    assert os.listdir(bytes(out)) == [b"caf\xe9.png"], "the photo is named like its sketch, byte for byte"


def test_a_strip_among_the_sketches_does_not_stop_the_others(tmp_path, capsys, demo_sketches, tiny_generator_file):
    """A 4000x2 sketch once crashed the face detector, and no photo was written for the good sketches."""
    sketches = tmp_path / "in"
    sketches.mkdir()
    Image.new("L", (4000, 2), 200).save(sketches / "a_strip.png")  # met first
    for sketch in sorted(demo_sketches.folder.iterdir()):
        (sketches / sketch.name).write_bytes(sketch.read_bytes())

    code = _predict(
        sketches,
        "-o",
        tmp_path / "out",
        "--model",
        tiny_generator_file,
        "--align",
        "detect",
        "--no-face",
        "center_crop",
    )

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["face0.png", "face1.png", "face2.png"]
    assert "processed 3, failed 1" in out
    assert f"{sketches / 'a_strip.png'}: too small to hold a face (4000x2 px; shorter side under 8 px)" in out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (bytes(range(256)) * 4, "not a file of plain PyTorch weights (Unsupported operand 0)"),
        ([1, 2], "it holds no generator (TypeError: list indices must be integers or slices, not str)"),
        ({"state_dict": {}}, "it holds no generator (KeyError: 'config')"),
    ],
    ids=["random bytes", "a list", "weights without a config"],
)
def test_a_broken_model_file_gets_one_whole_line_without_torchs_advice(tmp_path, capsys, content, problem):
    """torch's page of advice (load with weights_only=False, which would run the file's code) was cut mid-sentence."""
    model = tmp_path / "generator.pt"
    if isinstance(content, bytes):
        model.write_bytes(content)
    else:
        torch.save(content, model)

    code = _predict(tmp_path, "-o", tmp_path / "out", "--model", model, "--align", "center")

    error = capsys.readouterr().err
    assert code == EXIT_USAGE
    prefix = f"sketch2face predict: error: cannot load the generator file {model} (is it a generator.pt?)"
    assert error == f"{prefix}: {problem}\n"


# ---- serve ---------------------------------------------------------------------------------------


def _serve_process(model_file):
    return subprocess.Popen(
        [sys.executable, "-m", "sketch2face.cli", "serve", "--model", str(model_file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": python_path(REPO / "src"), "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_announces_its_url_serves_and_stops_cleanly_on_a_signal(tiny_generator_file, stop):
    server = _serve_process(tiny_generator_file)
    try:
        first_line = server.stdout.readline()
        match = re.fullmatch(
            r"sketch2face serve: (http://127\.0\.0\.1:\d+) "
            r"\(model generator\.pt, 32 px, device cpu\); Ctrl-C to stop\n",
            first_line,
        )
        assert match, first_line + server.stderr.read() if server.poll() is not None else first_line
        with urllib.request.urlopen(f"{match[1]}/healthz", timeout=30) as response:
            assert json.load(response)["status"] == "ok"
        server.send_signal(stop)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == EXIT_OK, err
    assert out == f"sketch2face serve: stopped ({stop.name})\n"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_serve_on_a_taken_port_is_a_usage_error(tiny_generator_file, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["serve", "--model", str(tiny_generator_file), "--port", str(taken.getsockname()[1])])
    assert code == EXIT_USAGE
    error = capsys.readouterr().err
    assert re.search(r"sketch2face serve: error: cannot listen on 127\.0\.0\.1:\d+: Address already in use", error)


def test_serve_without_a_model_is_a_usage_error(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nope.pt")]) == EXIT_USAGE
    assert "model file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--queue-size", "-1", "must be at least 0, got -1"),
        ("--port", "70000", "must be from 0 to 65535, got 70000"),
        ("--max-upload-bytes", "0", "must be at least 1, got 0"),
        ("--max-pixels", "many", "invalid integer value: 'many'"),
    ],
)
def test_serve_refuses_impossible_limits(capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", option, value])
    assert exit_info.value.code == EXIT_USAGE
    assert message in capsys.readouterr().err


# ---- appearance hints ---------------------------------------------------------------------------


def test_skin_and_hair_for_every_sketch_and_per_file_from_a_csv(tmp_path, capsys, demo_sketches, hinted_generator_file):
    common = ["--model", hinted_generator_file, "--align", "center"]
    assert _predict(demo_sketches.folder, "-o", tmp_path / "plain", *common) == EXIT_OK
    assert _predict(demo_sketches.folder, "-o", tmp_path / "auto", "--skin", "auto", *common) == EXIT_OK
    colours = ["--skin", "#8d5524", "--hair", "black"]
    assert _predict(demo_sketches.folder, "-o", tmp_path / "given", *colours, *common) == EXIT_OK
    hints = tmp_path / "hints.csv"
    hints.write_text("file,skin\nface1.png,monk-10\n")
    assert _predict(demo_sketches.folder, "-o", tmp_path / "csv", *colours, "--hints", hints, *common) == EXIT_OK

    model = inference.load_sketch_to_photo(hinted_generator_file)
    align = inference.SketchAligner.for_model(model, "center")

    def photo(folder: str, face: str) -> np.ndarray:
        return np.asarray(Image.open(tmp_path / folder / f"{face}.png"))

    def expected(face: str, **colours) -> np.ndarray:
        sketch = torch.from_numpy(align(demo_sketches.folder / f"{face}.png")[0])[None, None]
        return model(sketch, **colours)[0].permute(1, 2, 0).numpy()

    for face in ("face0", "face1", "face2"):
        assert np.array_equal(photo("plain", face), expected(face))
        assert np.array_equal(photo("auto", face), expected(face))
        assert np.array_equal(photo("given", face), expected(face, skin="#8d5524", hair="black"))
        csv_colours = {"skin": "monk-10", "hair": "black"} if face == "face1" else {"skin": "#8d5524", "hair": "black"}
        assert np.array_equal(photo("csv", face), expected(face, **csv_colours)), "the file's row replaces --skin"
    assert not np.array_equal(photo("plain", "face0"), photo("given", "face0"))


@pytest.mark.parametrize(
    ("arguments", "csv", "message"),
    [
        (["--skin", "#zz0000"], None, "--skin: '#zz0000' is not a colour: give a hex sRGB colour (#rrggbb), a Monk"),
        ([], "file,hair\nnobody.png,black\n", "hints.csv line 2: file 'nobody.png' is not one of the sketches given"),
        ([], "file,hair\nface0.png,purple\n", "hints.csv line 2, hair: 'purple' is not a colour"),
    ],
)
def test_a_bad_colour_or_hints_file_is_a_usage_error_that_names_it(
    tmp_path, capsys, demo_sketches, hinted_generator_file, arguments, csv, message
):
    if csv is not None:
        (tmp_path / "hints.csv").write_text(csv)
        arguments = [*arguments, "--hints", tmp_path / "hints.csv"]
    code = _predict(
        demo_sketches.folder, "-o", tmp_path / "out", "--model", hinted_generator_file, "--align", "center", *arguments
    )
    assert code == EXIT_USAGE and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing is generated before the hints are checked"


def test_colours_for_a_generator_trained_without_hints_are_a_usage_error(
    tmp_path, capsys, demo_sketches, tiny_generator_file
):
    common = [demo_sketches.folder, "--model", tiny_generator_file, "--align", "center"]
    assert _predict(*common, "-o", tmp_path / "auto", "--skin", "auto") == EXIT_OK  # auto is no hint
    assert _predict(*common, "-o", tmp_path / "out", "--hair", "black") == EXIT_USAGE
    assert (
        "sketch2face predict: error: the command line gives hair colours, but this generator was trained without hints"
    ) in capsys.readouterr().err
    (tmp_path / "hints.csv").write_text("file,skin\nface0.png,monk-04\n")
    assert _predict(*common, "-o", tmp_path / "out", "--hints", tmp_path / "hints.csv") == EXIT_USAGE
    problem = f"{tmp_path / 'hints.csv'} gives skin colours, but this generator was trained without hints"
    assert problem in capsys.readouterr().err
