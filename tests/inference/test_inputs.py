from pathlib import Path

from PIL import Image

from sketch2face.inference import (
    SketchAligner,
    collect_sketches,
    predict_sketches,
)


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


def test_the_output_folder_may_be_the_input_folder_or_its_parent(tmp_path, monkeypatch, tiny_model):
    """`sketch2face predict same -o .` once silently dropped every input under the output folder."""
    monkeypatch.chdir(tmp_path)
    same = _sketch_folder(tmp_path / "same", ["a.png", "b.jpg"])

    inputs, failures = collect_sketches([Path("same")], Path("."))
    assert [item.name for item in inputs] == ["a", "b"] and failures == []
    report = predict_sketches(inputs, tiny_model, SketchAligner.for_model(tiny_model, "center"), Path("."))
    assert len(report.written) == 2 and (tmp_path / "a.png").is_file() and (tmp_path / "b.png").is_file()

    inputs, failures = collect_sketches([same], same)
    assert [item.name for item in inputs] == ["b"], "b.jpg becomes same/b.png"
    assert [(failure.path, failure.reason) for failure in failures] == [
        (str(same / "a.png"), f"its photo would overwrite it (choose an -o folder other than {same})"),
    ]
